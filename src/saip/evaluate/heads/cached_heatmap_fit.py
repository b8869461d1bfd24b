"""The ``frozen`` top-down protocol: a heatmap head trained on cached backbone features of the crops.

With the backbone frozen, its features of every training crop are computed once (the crop and its
mirror image; targets mirrored with their left/right joints swapped) and the head alone is trained
on them: the linear-probe recipe applied to a heatmap decoder (no scale/rotation augmentation,
which would need a backbone pass per step). Memory: ``2 · N · D · (H/16) · (W/16)`` half-precision
values for ``N`` crops of ``H × W`` (about 200 MB for 800 crops at 128×96 with a 1280-d backbone).
"""

from __future__ import annotations

import torch

from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.coco_keypoints import TopDownDataset
from saip.evaluate.heads.finetune import DenseModel
from saip.evaluate.heads.heatmap import keypoint_mse_loss
from saip.evaluate.optimise import optimise
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.topdown import flip_heatmaps


@torch.no_grad()
def cache_crop_features(
    model: DenseModel,
    crops: TopDownDataset,
    device: str = "cpu",
    batch_size: int = 32,
    runtime: EvalRuntime | None = None,
) -> dict[str, torch.Tensor]:
    """Frozen features of every crop and of its mirror (``features``/``flipped``, float16 on the CPU)
    with the matching target heatmaps and weights (``heatmaps``/``flipped_heatmaps``, ``weights``/
    ``flipped_weights``)."""
    runtime = resolve_runtime(runtime)
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("features", "flipped", "heatmaps", "weights")}
    loader = runtime.loader(crops, batch_size=batch_size, device=device)
    for batch in runtime.bar(loader, "crop features", total=len(loader)):
        images = batch["image"].to(device, non_blocking=True)
        with runtime.autocast(device):
            out["features"].append(model.features(images).half().cpu())
            out["flipped"].append(model.features(images.flip(-1)).half().cpu())
        out["heatmaps"].append(batch["heatmaps"])
        out["weights"].append(batch["weights"])
    cache = {k: torch.cat(v) for k, v in out.items()}
    cache["flipped_heatmaps"] = flip_heatmaps(cache["heatmaps"], crops.flip_pairs)
    order = list(range(cache["weights"].shape[1]))
    for a, b in crops.flip_pairs:
        order[a], order[b] = b, a
    cache["flipped_weights"] = cache["weights"][:, order]
    return cache


def fit_head_on_cached_features(
    model: DenseModel,
    crops: TopDownDataset,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    weight_decay: float = 0.05,
    runtime: EvalRuntime | None = None,
) -> list[float]:
    """Train ``model.head`` for ``budget.total_steps(len(crops))`` steps on cached features of
    ``crops`` (each drawn as is or mirrored, at random) with the target-weighted heatmap MSE, AdamW
    and the budget's warm-up + cosine learning rate; returns the per-step losses. ``runtime``:
    decoding workers, autocast and progress bars."""
    if len(crops) == 0:
        raise ValueError("frozen top-down protocol: the training set is empty")
    runtime = resolve_runtime(runtime)
    cache = cache_crop_features(model, crops, device, runtime=runtime)
    total = budget.total_steps(len(crops))
    generator = torch.Generator().manual_seed(seed)
    batch = min(budget.batch_size, len(crops))
    model.head.train()

    def step_loss(step: int) -> torch.Tensor:
        index = torch.randint(0, len(crops), (batch,), generator=generator)
        mirror = torch.rand(batch, generator=generator) < 0.5
        m4 = mirror[:, None, None, None]
        features = torch.where(m4, cache["flipped"][index], cache["features"][index]).float().to(device)
        target = torch.where(m4, cache["flipped_heatmaps"][index], cache["heatmaps"][index]).to(device)
        weight = torch.where(mirror[:, None], cache["flipped_weights"][index], cache["weights"][index])
        with runtime.autocast(device):
            return keypoint_mse_loss(model.head(features), target, weight.to(device))

    params = list(model.head.parameters())
    losses = optimise(params, budget, total, step_loss, weight_decay, "frozen top-down protocol", runtime)
    model.eval()
    return losses
