"""What do a backbone's frozen patch tokens keep? Dense-task diagnosis against random init.

The dense tasks of ``saip eval all --budget quick`` train their heads on frozen patch tokens, so a
pretraining that makes the tokens of one image alike, or drops where a patch is and what it shows,
costs those tasks even when the image token improved. On held-out synthetic persons (identities
from ``PROBE_FIRST_IDENTITY`` on, never seen in pretraining, rendered at ``--size``), for every
backbone:

- ``part_acc`` / ``part_mIoU``: a linear classifier (ridge regression on one-hot targets, closed
  form) from one patch token to the majority body part of its patch (the 21 synthetic part classes),
  fitted on 70 % of the identities and scored on the rest with the parsing task's metrics
  (``saip.evaluate.metrics.segmentation``): linear part parsing from one token.
- ``rgb_r2``: R² of a ridge regression from the patch token to its patch's mean colour (local appearance).
- ``pos_r2``: R² of a ridge regression from the patch token to its (row, column) in the grid.
- ``patch_cos``: mean cosine similarity of two patch tokens of the same image (→ 1: every patch
  of an image says the same thing, i.e. image-level rather than local features).

Each backbone runs at its own input size with the persons at ``--size`` (ViT position embeddings
interpolated), as in the dense tasks; ``random:<arch>@HxW`` is a random init built at ``HxW``.

    python benchmarks/dense_diagnosis.py --backbones random:vit_tiny@128x64,runs/a --size 256,128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from saip.data.normalize import normalize_uint8
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.metrics.segmentation import confusion_matrix, segmentation_scores
from saip.evaluate.probe import PROBE_FIRST_IDENTITY
from saip.synth.dataset import SyntheticPersonDataset
from saip.synth.parts import PART_CLASSES

RESULTS = Path(__file__).resolve().parent / "results"


def ridge_fit_predict(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, lam: float
) -> torch.Tensor:
    """Ridge regression ``W = (X^T X + lam * tr(X^T X)/D * I)^-1 X^T Y`` on standardised features
    with a bias; returns the predictions for ``x_test``."""
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)

    def design(x: torch.Tensor) -> torch.Tensor:
        z = (x - mean) / std
        return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], dim=1)

    a, b = design(x_train), design(x_test)
    gram = a.T @ a
    reg = lam * torch.trace(gram) / gram.shape[0] * torch.eye(gram.shape[0], dtype=gram.dtype)
    reg[-1, -1] = 0  # the bias is not shrunk
    return b @ torch.linalg.solve(gram + reg, a.T @ y_train)


def r2_score(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination averaged over the target columns."""
    residual = ((target - pred) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0).clamp_min(1e-12)
    return float((1 - residual / total).mean())


def patch_targets(
    images: torch.Tensor, parts: torch.Tensor, grid: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """Per patch: majority part label, mean RGB (0-1) and normalised (row, col); ``(B*h*w, ...)``."""
    b = len(images)
    onehot = F.one_hot(parts.long(), len(PART_CLASSES)).permute(0, 3, 1, 2).float()
    part = F.adaptive_avg_pool2d(onehot, grid).argmax(1).reshape(-1)
    rgb = F.adaptive_avg_pool2d(images.float() / 255, grid).permute(0, 2, 3, 1).reshape(-1, 3)
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    pos = torch.stack([rows / max(grid[0] - 1, 1), cols / max(grid[1] - 1, 1)], -1).reshape(-1, 2)
    return {"part": part, "rgb": rgb, "pos": pos.repeat(b, 1).double()}


@torch.no_grad()
def patch_tokens(spec: str, images: torch.Tensor, seed: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch tokens of ``images`` through the backbone built at its own input size, as the dense
    tasks do (ViT position embeddings are interpolated to the image); ``random:<arch>@HxW`` builds
    the random init at ``HxW``, else at the default 256x128."""
    spec, _, size = spec.partition("@")
    img_size = tuple(int(v) for v in size.split("x")) if size else None
    backbone, info = load_backbone(spec, img_size=img_size, seed=seed)
    chunks, grid = [], None
    for i in range(0, len(images), 64):
        out = backbone(normalize_uint8(images[i : i + 64], info.mean, info.std))
        chunks.append(out.patch_tokens.float())
        grid = out.grid_size
    return torch.cat(chunks), grid


def diagnose(
    spec: str, images: torch.Tensor, parts: torch.Tensor, n_train: int, seed: int, lam: float
) -> dict:
    tokens, grid = patch_tokens(spec, images, seed)  # (B, N, D)
    z = F.normalize(tokens, dim=-1)
    n = z.shape[1]
    cos = (z @ z.transpose(1, 2)).sum((1, 2)) - n
    patch_cos = float((cos / (n * (n - 1))).mean())
    targets = patch_targets(images, parts, grid)
    x = tokens.reshape(-1, tokens.shape[-1]).double()
    split = n_train * n
    result = {"grid": list(grid), "patch_cos": patch_cos}
    onehot = F.one_hot(targets["part"], len(PART_CLASSES)).double()
    scores = ridge_fit_predict(x[:split], onehot[:split], x[split:], lam)
    hist = confusion_matrix(scores.argmax(1), targets["part"][split:], len(PART_CLASSES))
    parsing = segmentation_scores(hist)  # the parsing task's definitions
    result["part_acc"], result["part_mIoU"] = parsing["pixel_acc"] * 100, parsing["mIoU"] * 100
    for key in ("rgb", "pos"):
        y = targets[key].double()
        result[f"{key}_r2"] = r2_score(ridge_fit_predict(x[:split], y[:split], x[split:], lam), y[split:])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backbones", required=True, help="comma list: run folders, weight files, random:<arch>"
    )
    parser.add_argument("--size", default="256,128", help="H,W of the rendered persons [256,128]")
    parser.add_argument("--identities", type=int, default=200)
    parser.add_argument("--images-per-id", type=int, default=2)
    parser.add_argument("--ridge", type=float, default=1e-2, help="ridge strength relative to tr(X^T X)/D")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default=None, help="write results/dense_diagnosis-TAG.json")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(","))
    data = SyntheticPersonDataset(
        args.identities, args.images_per_id, seed=args.seed, first_identity=PROBE_FIRST_IDENTITY, size=size
    )
    items = [data[i] for i in range(len(data))]
    images = torch.stack([torch.from_numpy(np.array(it["image"])).permute(2, 0, 1) for it in items])
    parts = torch.stack([torch.from_numpy(np.array(it["parts"])) for it in items])
    n_train = int(0.7 * args.identities) * args.images_per_id  # identity-disjoint split
    rows = {}
    print(
        f"{len(images)} persons at {size[0]}x{size[1]}, fit on {n_train}, scored on {len(images) - n_train}"
    )
    print(
        f"{'backbone':48s} {'part_acc':>8s} {'part_mIoU':>9s} {'rgb_r2':>7s} {'pos_r2':>7s} {'patch_cos':>9s}"
    )
    for spec in [s for s in args.backbones.split(",") if s]:
        rows[spec] = r = diagnose(spec, images, parts, n_train, args.seed, args.ridge)
        print(
            f"{spec[-48:]:48s} {r['part_acc']:8.1f} {r['part_mIoU']:9.1f} {r['rgb_r2']:7.3f} "
            f"{r['pos_r2']:7.3f} {r['patch_cos']:9.3f}",
            flush=True,
        )
    if args.tag:
        out = RESULTS / f"dense_diagnosis-{args.tag}.json"
        out.write_text(json.dumps({"args": vars(args), "backbones": rows}, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
