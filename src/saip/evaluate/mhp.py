"""Multiple human parsing on the CIHP layout (Gong et al., ECCV 2018, "Instance-level Human Parsing via
Part Grouping Network").

Images and label maps are resized to a fixed input (the quick budget keeps the synthetic scenes'
384×512 and trains on random 192×256 crops, ``TaskBudget.train_crop``);
:class:`~saip.evaluate.heads.instance_parsing.MultiHumanParsingHead` on the backbone's stride-16
map predicts the 20 CIHP part classes and groups part pixels into persons around
predicted person centres (the module documents why this bottom-up design). Scores, at the input
size over the validation images: semantic mIoU (one confusion matrix,
:mod:`saip.evaluate.metrics.segmentation`) and CIHP's instance-level AP^p at part IoU 0.5 and
AP^p_vol over 0.1–0.9 (:mod:`saip.evaluate.metrics.instance_parsing`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.cihp import (
    CIHP_NUM_CLASSES,
    CihpDataset,
    CihpSample,
    list_cihp_split,
    resolve_cihp_root,
)
from saip.evaluate.heads.cached_fit import input_size
from saip.evaluate.heads.finetune import PROTOCOLS, DenseModel, fit
from saip.evaluate.heads.instance_parsing import MultiHumanParsingHead, group_persons, mhp_loss
from saip.evaluate.metrics.instance_parsing import ImagePersons, parsing_ap_summary, split_persons
from saip.evaluate.metrics.segmentation import confusion_matrix, segmentation_scores
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.task_record import write_task_record

DEFAULT_INPUT_SIZE = (384, 512)


@torch.no_grad()
def mhp_scores(
    model: nn.Module,
    dataset: CihpDataset,
    batch_size: int = 8,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """mIoU, pixel accuracy, AP^p_50 and AP^p_vol (in [0, 1]) of the model on ``dataset``."""
    runtime = resolve_runtime(runtime)
    model.eval()
    hist = torch.zeros(CIHP_NUM_CLASSES, CIHP_NUM_CLASSES, dtype=torch.int64)
    images: list[ImagePersons] = []
    loader = runtime.loader(dataset, batch_size=batch_size, device=device)
    for batch in runtime.bar(loader, "predict", total=len(loader)):
        inputs = batch["image"].to(device, non_blocking=True)
        with runtime.autocast(device):
            outputs = model(inputs, inputs.shape[-2:])
        for (semantic, persons, scores), category, human in zip(
            group_persons(outputs), batch["category"], batch["human"], strict=True
        ):
            hist += confusion_matrix(torch.from_numpy(semantic), category, CIHP_NUM_CLASSES)
            gt = split_persons(category.numpy(), human.numpy())
            images.append(ImagePersons(gt, persons, scores))
    scores = segmentation_scores(hist)
    scores.update(parsing_ap_summary(images, CIHP_NUM_CLASSES))
    return scores


def evaluate_mhp(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train_samples: list[CihpSample],
    val_samples: list[CihpSample],
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train the head (and the backbone, protocol ``finetune``) on ``train_samples``; return the
    scores on ``val_samples`` (in [0, 1]) and the training losses (``runtime``: loader workers,
    autocast, progress bars)."""
    if budget.protocol not in PROTOCOLS:
        raise ValueError(f"unknown mhp protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    size = tuple(budget.img_size or DEFAULT_INPUT_SIZE)
    if size[0] % 16 or size[1] % 16:
        raise ValueError(f"mhp input size {size} is not a multiple of 16")
    rng = np.random.default_rng(seed)
    if budget.max_train_images is not None and len(train_samples) > budget.max_train_images:
        picked = sorted(rng.choice(len(train_samples), budget.max_train_images, replace=False))
        train_samples = [train_samples[i] for i in picked]
    if budget.max_eval_images is not None:
        val_samples = val_samples[: budget.max_eval_images]
    crop = tuple(budget.train_crop) if budget.train_crop else None
    if crop is not None and (crop[0] % 16 or crop[1] % 16):
        raise ValueError(f"mhp training crop {crop} is not a multiple of 16")
    train_set = CihpDataset(train_samples, size, mean, std, train=True, seed=seed, crop=crop)
    val_set = CihpDataset(val_samples, size, mean, std)
    torch.manual_seed(seed)
    model = DenseModel(
        backbone,
        MultiHumanParsingHead(backbone.embed_dim, CIHP_NUM_CLASSES),
        freeze_backbone=budget.protocol == "frozen",
    ).to(device)

    def loss_fn(m: DenseModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        images = batch["image"].to(device)
        return mhp_loss(m(images, input_size(batch)), batch["category"], batch["human"])

    losses = fit(model, train_set, budget, loss_fn, seed=seed, task="mhp", runtime=runtime)
    return mhp_scores(model, val_set, device=device, runtime=runtime), losses


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on CIHP-layout multiple human parsing at ``data_root``; writes
    ``out_dir/mhp.json`` and returns mIoU, APp50, APp_vol, pixel_acc (in %) and ``seconds``.
    ``runtime``: loader workers, autocast and progress bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "mhp", protocol)
    base = resolve_cihp_root(Path(data_root))
    train_samples, val_samples = list_cihp_split(base, "train"), list_cihp_split(base, "val")
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    scores, losses = evaluate_mhp(
        backbone, info.mean, info.std, train_samples, val_samples, task_budget, seed, device, runtime
    )
    metrics = {k: 100.0 * scores[k] for k in ("mIoU", "APp50", "APp_vol", "pixel_acc")}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_task_record(
        out_dir,
        "mhp",
        dataset=str(base),
        backbone=info.source,
        budget=budget,
        task_budget=task_budget,
        input_size=list(task_budget.img_size or DEFAULT_INPUT_SIZE),
        seed=seed,
        metrics=metrics,
        scores=scores,
        losses=losses,
    )
    return metrics
