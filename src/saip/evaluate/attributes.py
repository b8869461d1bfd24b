"""Pedestrian attribute recognition: linear probe on frozen features and fine-tuning.

Both protocols train one logit per attribute with the **positive-ratio weighted BCE** of Li et al.
2015 (DeepMAR, ACPR 2015; in the form of Jia et al. 2021, "Rethinking of Pedestrian Attribute
Recognition"): for attribute j with training positive ratio p_j, positives are weighted
``exp(1 - p_j)`` and negatives ``exp(p_j)``. Predictions are thresholded at 0.5. Scores: mA and the
instance-based accuracy / precision / recall / F1 (:mod:`saip.evaluate.metrics.attributes`).

* ``linear`` — frozen image tokens, standardised with the training mean/std, full-batch Adam on a
  logistic-regression layer.
* ``finetune`` — backbone + linear head (the SAIP downstream recipe: 256×128, AdamW, BCE), with
  flip + pad/crop augmentation, warm-up + cosine learning rate.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from saip.data.normalize import normalize_uint8
from saip.evaluate.backbone_loader import BackboneInfo, load_backbone
from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.attribute_table import AttributeDataset, AttributeSplit, load_attribute_table
from saip.evaluate.features import ImageListDataset, Pooling, extract_features
from saip.evaluate.metrics.attributes import attribute_metrics, positive_ratio_weights
from saip.evaluate.optimise import optimise
from saip.evaluate.reid import reid_augment
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

PROTOCOLS: tuple[str, ...] = ("linear", "finetune")
LINEAR_PROBE_LR = 1e-2
LINEAR_PROBE_WEIGHT_DECAY = 1e-4


def weighted_bce(
    logits: torch.Tensor, targets: torch.Tensor, w_pos: torch.Tensor, w_neg: torch.Tensor
) -> torch.Tensor:
    """Mean BCE-with-logits where positives of attribute j weigh ``w_pos[j]`` and negatives ``w_neg[j]``."""
    weights = torch.where(targets > 0.5, w_pos, w_neg)
    return F.binary_cross_entropy_with_logits(logits, targets.float(), weight=weights)


def _loss_weights(targets: np.ndarray, device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    w_pos, w_neg = positive_ratio_weights(targets)
    return (
        torch.as_tensor(w_pos, dtype=torch.float32, device=device),
        torch.as_tensor(w_neg, dtype=torch.float32, device=device),
    )


def fit_linear_probe(
    train_feats: torch.Tensor, train_targets: np.ndarray, steps: int = 300, seed: int = 0
) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """Logistic regression (weighted BCE, full-batch Adam) on standardised frozen features.

    Returns the layer and the feature mean/std to standardise new features with.
    """
    mean = train_feats.mean(0)
    std = train_feats.std(0).clamp_min(1e-6)
    x = (train_feats - mean) / std
    y = torch.as_tensor(train_targets, dtype=torch.float32)
    w_pos, w_neg = _loss_weights(train_targets, "cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(x.shape[1], y.shape[1])
    optimizer = torch.optim.Adam(
        layer.parameters(), lr=LINEAR_PROBE_LR, weight_decay=LINEAR_PROBE_WEIGHT_DECAY
    )
    for _ in range(steps):
        loss = weighted_bce(layer(x), y, w_pos, w_neg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return layer, mean, std


@torch.no_grad()
def predict_linear(
    layer: nn.Linear, mean: torch.Tensor, std: torch.Tensor, feats: torch.Tensor
) -> np.ndarray:
    """0/1 predictions ``(N, A)`` of a fitted linear probe (probability >= 0.5)."""
    return (layer((feats - mean) / std) >= 0).numpy().astype(np.int64)


def cap_split(split: AttributeSplit, max_images: int | None, rng: np.random.Generator) -> AttributeSplit:
    """A random subset of at most ``max_images`` images (all when ``None``), kept in file order."""
    if max_images is None or len(split) <= max_images:
        return split
    return split.subset(np.sort(rng.choice(len(split), size=max_images, replace=False)))


def linear_probe(
    backbone: nn.Module,
    info: BackboneInfo,
    data: AttributeDataset,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    pooling: Pooling = "token",
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Linear-probe protocol on frozen features of the train split, scored on the test split."""
    rng = np.random.default_rng(seed)
    train = cap_split(data.train, budget.max_train_images, rng)
    test = cap_split(data.test, budget.max_eval_images, rng)
    size = budget.img_size or info.img_size
    kwargs = dict(mean=info.mean, std=info.std, size=size, pooling=pooling, device=device, runtime=runtime)
    train_feats = extract_features(backbone, train.paths, **kwargs)
    test_feats = extract_features(backbone, test.paths, **kwargs)
    layer, mean, std = fit_linear_probe(train_feats, train.targets, steps=max(1, budget.steps), seed=seed)
    return attribute_metrics(predict_linear(layer, mean, std, test_feats), test.targets)


def finetune(
    backbone: nn.Module,
    info: BackboneInfo,
    data: AttributeDataset,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Fine-tune backbone + linear head with the weighted BCE; returns test metrics and step losses.
    ``runtime``: decoding workers, autocast and progress bars."""
    runtime = resolve_runtime(runtime)
    rng = np.random.default_rng(seed)
    size = budget.img_size or info.img_size
    train = cap_split(data.train, budget.max_train_images, rng)
    test = cap_split(data.test, budget.max_eval_images, rng)
    total = budget.total_steps(len(train))
    batch = min(budget.batch_size, len(train))
    order = np.concatenate([rng.permutation(len(train)) for _ in range(total * batch // len(train) + 1)])
    batches = [order[i * batch : (i + 1) * batch] for i in range(total)]
    loader = runtime.loader(ImageListDataset(train.paths, size), batch_sampler=batches, device=device)
    torch.manual_seed(seed)  # the head's init (as the dense tasks seed theirs)
    head = nn.Linear(info.embed_dim, len(data.attributes)).to(device)
    w_pos, w_neg = _loss_weights(train.targets, device)
    targets = torch.as_tensor(train.targets, dtype=torch.float32)
    backbone.to(device).train()
    params = [p for p in list(backbone.parameters()) + list(head.parameters()) if p.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    batches_iter = iter(loader)

    def step_loss(step: int) -> torch.Tensor:
        images, index = next(batches_iter)
        x = reid_augment(normalize_uint8(images, info.mean, info.std), generator, erase_prob=0.0).to(device)
        with runtime.autocast(device):
            return weighted_bce(head(backbone(x).image_token), targets[index].to(device), w_pos, w_neg)

    losses = optimise(params, budget, total, step_loss, 1e-4, "attribute fine-tuning", runtime)
    backbone.eval()
    head.eval()
    with torch.no_grad():
        feats = extract_features(
            backbone, test.paths, info.mean, info.std, size=size, device=device, runtime=runtime
        )
        pred = (head(feats.to(device)) >= 0).cpu().numpy().astype(np.int64)
    return attribute_metrics(pred, test.targets), losses


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    pooling: Pooling = "token",
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on the attribute table at ``data_root`` (a CSV, a folder with
    ``attributes.csv``, or a saip data root); writes ``out_dir/attributes.json``, returns metrics (%).
    ``runtime``: loader workers, autocast and progress bars (:class:`EvalRuntime`)."""
    task_budget = get_budget(budget, "attributes", protocol)
    if task_budget.protocol not in PROTOCOLS:
        raise ValueError(
            f"unknown attribute protocol {task_budget.protocol!r}; choose from {', '.join(PROTOCOLS)}"
        )
    data = load_attribute_table(Path(data_root))
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    losses: list[float] = []
    if task_budget.protocol == "linear":
        metrics = linear_probe(backbone, info, data, task_budget, seed, device, pooling, runtime)
    else:
        metrics, losses = finetune(backbone, info, data, task_budget, seed, device, runtime)
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task": "attributes",
        "dataset": data.name,
        "attributes": data.attributes,
        "backbone": info.source,
        "protocol": task_budget.protocol,
        "budget": budget,
        "budget_settings": asdict(task_budget),
        "seed": seed,
        "metrics": metrics,
        "train_loss": losses,
    }
    (out_dir / "attributes.json").write_text(json.dumps(record, indent=2))
    return metrics
