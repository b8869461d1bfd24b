"""Top-down 2-D human pose estimation on COCO keypoints (SimpleBaseline/ViTPose protocol).

Each ground-truth person box is cropped (padding 1.25, aspect fixed to the input, default
256×192) with an affine warp; a ViTPose head (Xu et al., NeurIPS 2022) on the backbone's
stride-16 grid regresses 17 Gaussian heatmaps at stride 4 with the target-weighted MSE loss;
heatmaps are decoded (arg-max + DARK Taylor step, optional flip test averaging) and mapped back
through the inverse affine to image coordinates; COCO OKS AP/AR come from pycocotools.
See :mod:`saip.evaluate.topdown` for the geometry and :mod:`saip.evaluate.metrics.pose`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.coco_keypoints import (
    CocoKeypoints,
    PersonInstance,
    TopDownDataset,
    load_coco_keypoints,
)
from saip.evaluate.heads.cached_heatmap_fit import fit_head_on_cached_features
from saip.evaluate.heads.finetune import PROTOCOLS, DenseModel, fit
from saip.evaluate.heads.heatmap import HeatmapHead, keypoint_mse_loss
from saip.evaluate.metrics.pose import coco_keypoint_ap
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.topdown import apply_affine, decode_heatmaps, flip_heatmaps, invert_affine

DEFAULT_INPUT_SIZE = (256, 192)
# (decoder, classic decoder width) per protocol: ViTPose's simple decoder when the backbone is
# fine-tuned; on a frozen backbone its classic decoder (two deconvolution blocks), where the simple
# decoder would be a linear read-out of frozen features.
HEAD_BY_PROTOCOL = {"finetune": ("simple", 256), "frozen": ("classic", 128)}
SCORE_THRESHOLD = 0.2  # keypoints above it define the instance score (mmpose / HRNet rescoring)
# (ground-truth COCO dict, keypoint results) -> metrics in [0, 1]
ScoreFn = Callable[[dict[str, Any], list[dict]], dict[str, float]]


def coco_pose_scores(ground_truth: dict[str, Any], results: list[dict]) -> dict[str, float]:
    """COCO OKS AP/AR: COCO's sigmas for the 17 COCO keypoints, 0.079 for every point of other sets."""
    num_keypoints = len(ground_truth["categories"][0].get("keypoints", []))
    sigmas = None if num_keypoints == 17 else [0.079] * num_keypoints
    return coco_keypoint_ap(ground_truth, results, sigmas=sigmas)


def heatmaps_to_keypoints(heatmaps: torch.Tensor, matrices: torch.Tensor | np.ndarray) -> np.ndarray:
    """Image-space keypoints ``(B, K, 3)`` (x, y, score) from heatmaps ``(B, K, h, w)`` of crops
    made with image→crop affines ``matrices`` ``(B, 2, 3)`` (heatmap stride 4)."""
    coords, scores = decode_heatmaps(heatmaps, stride=4.0)
    matrices = np.asarray(matrices, dtype=np.float64)
    out = np.zeros((*coords.shape[:2], 3), dtype=np.float64)
    for i in range(len(coords)):
        out[i, :, :2] = apply_affine(coords[i].double().numpy(), invert_affine(matrices[i]))
    out[:, :, 2] = scores.numpy()
    return out


def keypoint_results(
    instances: list[PersonInstance], keypoints: np.ndarray, category_id: int = 1
) -> list[dict]:
    """COCO keypoint result dicts; instance score = mean keypoint score above 0.2 (mmpose rescoring)."""
    results = []
    for inst, kps in zip(instances, keypoints, strict=True):
        confident = kps[:, 2][kps[:, 2] > SCORE_THRESHOLD]
        score = float(confident.mean()) if len(confident) else 0.0
        results.append(
            {
                "image_id": inst.image_id,
                "category_id": category_id,
                "keypoints": [float(v) for v in kps.reshape(-1)],
                "score": score,
            }
        )
    return results


@torch.no_grad()
def predict_keypoints(
    model: nn.Module,
    dataset: TopDownDataset,
    flip_test: bool = True,
    batch_size: int = 32,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> np.ndarray:
    """Image-space keypoints ``(N, K, 3)`` for every crop of ``dataset`` (flip test averages the
    heatmaps of the mirrored crop, with left/right joints swapped)."""
    runtime = resolve_runtime(runtime)
    model.eval()
    outputs = []
    loader = runtime.loader(dataset, batch_size=batch_size, device=device)
    for batch in runtime.bar(loader, "predict", total=len(loader)):
        images = batch["image"].to(device, non_blocking=True)
        with runtime.autocast(device):
            heatmaps = model(images).float()
            if flip_test:
                mirrored = model(images.flip(-1)).float()
                heatmaps = 0.5 * (heatmaps + flip_heatmaps(mirrored, dataset.flip_pairs))
        outputs.append(heatmaps_to_keypoints(heatmaps.cpu(), batch["matrix"]))
    return np.concatenate(outputs)


def _ground_truth_subset(data: CocoKeypoints, image_ids: set[int]) -> dict[str, Any]:
    dataset = dict(data.dataset)
    dataset["images"] = [img for img in data.dataset["images"] if img["id"] in image_ids]
    dataset["annotations"] = [a for a in data.dataset["annotations"] if a["image_id"] in image_ids]
    return dataset


def _cap_by_image(instances: list[PersonInstance], max_instances: int | None) -> list[PersonInstance]:
    """Whole images (all their persons, in file order) until ``max_instances`` persons are reached."""
    if max_instances is None or len(instances) <= max_instances:
        return instances
    kept: list[PersonInstance] = []
    for image_id in dict.fromkeys(i.image_id for i in instances):
        if len(kept) >= max_instances:
            break
        kept += [i for i in instances if i.image_id == image_id]
    return kept


def evaluate_pose(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train: CocoKeypoints,
    val: CocoKeypoints,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    flip_test: bool = True,
    head_kind: str = "simple",
    score_fn: ScoreFn = coco_pose_scores,
    head_hidden: int = 256,
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train a heatmap head (and the backbone, protocol ``finetune``) on ``train``, report
    ``score_fn`` (default: COCO keypoint AP/AR, in [0, 1]) on ``val``'s persons; returns the metrics
    and the training losses. The number of heatmaps and the flip pairs come from the data;
    ``head_hidden`` is the classic decoder's width; ``runtime``: loader workers, autocast, bars."""
    if budget.protocol not in PROTOCOLS:
        raise ValueError(f"unknown pose protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if len(train.keypoint_names) != len(val.keypoint_names):
        raise ValueError("train and val annotations have different keypoint sets")
    size = tuple(budget.img_size or DEFAULT_INPUT_SIZE)
    rng = np.random.default_rng(seed)
    train_instances = train.instances
    if budget.max_train_images is not None and len(train_instances) > budget.max_train_images:
        picked = rng.choice(len(train_instances), budget.max_train_images, replace=False)
        train_instances = [train_instances[i] for i in sorted(picked)]
    val_instances = _cap_by_image(val.instances, budget.max_eval_images)
    if not train_instances or not val_instances:
        raise ValueError("pose evaluation needs annotated persons in both train and val")
    num_keypoints = len(train.keypoint_names)
    torch.manual_seed(seed)
    head = HeatmapHead(backbone.embed_dim, num_keypoints, kind=head_kind, hidden=head_hidden)
    model = DenseModel(backbone, head, freeze_backbone=budget.protocol == "frozen").to(device)
    if budget.protocol == "frozen":  # head on cached features of the crops and their mirrors
        crops = TopDownDataset(train_instances, size, mean, std, train.flip_pairs, train=False)
        losses = fit_head_on_cached_features(model, crops, budget, seed, device, runtime=runtime)
    else:
        train_set = TopDownDataset(train_instances, size, mean, std, train.flip_pairs, train=True, seed=seed)

        def loss_fn(m: DenseModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            pred = m(batch["image"].to(device))
            return keypoint_mse_loss(pred, batch["heatmaps"].to(device), batch["weights"].to(device))

        losses = fit(model, train_set, budget, loss_fn, seed=seed, task="pose", runtime=runtime)
    val_set = TopDownDataset(val_instances, size, mean, std, val.flip_pairs, train=False)
    keypoints = predict_keypoints(model, val_set, flip_test=flip_test, device=device, runtime=runtime)
    category = val.dataset["categories"][0]["id"]
    results = keypoint_results(val_instances, keypoints, category)
    ground_truth = _ground_truth_subset(val, {i.image_id for i in val_instances})
    return score_fn(ground_truth, results), losses


def resolve_pose_layout(root: Path) -> dict[str, tuple[Path, Path]]:
    """``{"train": (json, image_dir), "val": ...}`` for a saip data root (``pose/``) or a COCO root.

    Accepted: ``annotations/person_keypoints_{split}[2017].json`` with images in
    ``images/{split}[2017]/`` or ``{split}2017/``.
    """
    root = Path(root)
    base = root / "pose" if (root / "pose").is_dir() else root
    layout = {}
    for split in ("train", "val"):
        ann = next(
            (
                p
                for p in (
                    base / "annotations" / f"person_keypoints_{split}.json",
                    base / "annotations" / f"person_keypoints_{split}2017.json",
                )
                if p.is_file()
            ),
            None,
        )
        images = next(
            (
                p
                for p in (base / "images" / split, base / "images" / f"{split}2017", base / f"{split}2017")
                if p.is_dir()
            ),
            None,
        )
        if ann is None or images is None:
            raise FileNotFoundError(
                f"{base}: no COCO keypoint layout for split {split!r} (expected annotations/person_keypoints_"
                f"{split}.json and images/{split}/)"
            )
        layout[split] = (ann, images)
    return layout


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    flip_test: bool = True,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on COCO-layout keypoints at ``data_root``; writes ``out_dir/pose.json``
    and returns AP, AP50, AP75, AR (in %) and ``seconds``. ``runtime``: workers, autocast, bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "pose", protocol)
    layout = resolve_pose_layout(Path(data_root))
    train, val = (load_coco_keypoints(*layout[s]) for s in ("train", "val"))
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    head, hidden = HEAD_BY_PROTOCOL.get(task_budget.protocol, ("simple", 256))
    start = time.perf_counter()
    scores, losses = evaluate_pose(
        backbone, info.mean, info.std, train, val, task_budget, seed, device, flip_test,
        head_kind=head, head_hidden=hidden, runtime=runtime,
    )  # fmt: skip
    metrics = {k: 100.0 * scores[k] for k in ("AP", "AP50", "AP75", "AR")}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task": "pose",
        "dataset": str(layout["val"][0]),
        "backbone": info.source,
        "protocol": task_budget.protocol,
        "input_size": list(task_budget.img_size or DEFAULT_INPUT_SIZE),
        "budget": budget,
        "budget_settings": asdict(task_budget),
        "seed": seed,
        "flip_test": flip_test,
        "head": head,
        "metrics": metrics,
        "all_metrics": scores,
        "train_loss": losses,
    }
    (out_dir / "pose.json").write_text(json.dumps(record, indent=2))
    return metrics
