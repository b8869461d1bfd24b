"""Why does (or doesn't) a self-supervised run learn? Pretext task vs transfer, on held-out persons.

For each backbone (run folders and ``random:<arch>``), on held-out synthetic identities rendered at
the backbone's input size:

- ``instance_top1``: retrieval of an image's second global view among the other images' second views,
  given its first view (the run's own view config: crops, jitter, ...) — what the CSM pretext task
  rewards. A run that learned its pretext task beats random init here.
- ``reid_mAP``: kNN identity retrieval across cameras (the built-in probe's metric) — what transfers.
- ``camera_nn``: for each probe image, the share of its nearest neighbour among the *other*
  identities' images that was taken by the same camera (background style and colour cast). Chance is
  about 1/6 with the synthetic world's 6 cameras; features that encode the capture domain rather
  than the person score high here and low on cross-camera ReID.
- ``mean_cos`` / ``eff_rank``: mean pairwise cosine similarity of the features and their effective
  rank (exp of the entropy of the normalised singular values; Roy & Vetterli, 2007): a
  representation whose images all look alike (cos → 1, rank → 1) gives DINO's teacher nearly
  identical logits for every image, i.e. flat targets.

    python benchmarks/ssl_diagnosis.py --config runs/a/config.yaml \\
        --runs runs/a,runs/b/checkpoints/step_00000200.pt --random vit_tiny
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from saip.config import load_config
from saip.data import ViewDataset
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.features import extract_features
from saip.evaluate.probe import PROBE_FIRST_IDENTITY, probe_size, synthetic_probe_data
from saip.evaluate.reid import retrieval_metrics
from saip.pretrain.builder import build_view_config
from saip.synth.dataset import SyntheticPersonDataset


def feature_stats(f: torch.Tensor) -> dict[str, float]:
    z = torch.nn.functional.normalize(f.double(), dim=1)
    cos = z @ z.T
    n = len(z)
    mean_cos = float((cos.sum() - n) / (n * (n - 1)))
    s = torch.linalg.svdvals(f.double() - f.double().mean(0))
    p = s / s.sum()
    eff_rank = float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))
    return {"mean_cos": mean_cos, "eff_rank": eff_rank}


def camera_nn(feats: torch.Tensor, pids: np.ndarray, camids: np.ndarray) -> float:
    """% of images whose nearest other-identity neighbour (cosine) shares their camera."""
    z = torch.nn.functional.normalize(feats.double(), dim=1)
    sim = z @ z.T
    same_id = torch.from_numpy(pids[:, None] == pids[None, :])
    nearest = sim.masked_fill(same_id, -torch.inf).argmax(1).numpy()
    return float((camids[nearest] == camids).mean() * 100)


def instance_top1(backbone, info, views: ViewDataset, n: int) -> float:
    items = [views[i] for i in range(n)]
    a = torch.stack([it["global"][0] for it in items])
    b = torch.stack([it["global"][1] for it in items])
    fa = torch.nn.functional.normalize(extract_features(backbone, a, info.mean, info.std), dim=1)
    fb = torch.nn.functional.normalize(extract_features(backbone, b, info.mean, info.std), dim=1)
    return float(((fa @ fb.T).argmax(1) == torch.arange(n)).float().mean() * 100)


def load_spec(spec: str, seed: int, cfg):
    """A run folder, ``random:<arch>``, or a training checkpoint ``.pt`` of a run with config ``cfg``
    (its student, read by the project's weight loader: weights only, ``student.`` prefix stripped)."""
    if not spec.endswith(".pt"):
        return load_backbone(spec, seed=seed)
    return load_backbone(spec, arch=cfg.model.backbone, img_size=tuple(cfg.model.img_size))


def diagnose(spec: str, args, views: ViewDataset, probe) -> dict[str, float]:
    backbone, info = load_spec(spec, args.seed, args.cfg)
    feats = extract_features(backbone, torch.cat([probe.query, probe.gallery]), info.mean, info.std)
    nq = len(probe.query)
    reid = retrieval_metrics(feats[:nq], feats[nq:], probe.query_split, probe.gallery_split)
    pids = np.concatenate([probe.query_split.pids, probe.gallery_split.pids])
    camids = np.concatenate([probe.query_split.camids, probe.gallery_split.camids])
    return {
        "camera_nn": camera_nn(feats, pids, camids),
        "instance_top1": instance_top1(backbone, info, views, args.instances),
        "reid_mAP": float(reid["mAP"]),
        **feature_stats(feats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="", help="comma-separated run folders or checkpoint .pt files")
    parser.add_argument("--random", default="vit_tiny", help="architecture of the random-init row")
    parser.add_argument("--config", required=True, help="the runs' config.yaml (views, input size)")
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    cfg = args.cfg = load_config(args.config, [])
    size = probe_size(tuple(cfg.model.img_size))
    source = SyntheticPersonDataset(
        args.instances,
        1,
        seed=args.seed + 7,
        first_identity=PROBE_FIRST_IDENTITY,
        size=tuple(cfg.data.views.get("global_size", size)),
    )
    views = ViewDataset(source, build_view_config(cfg), seed=args.seed)
    probe = synthetic_probe_data(600, args.seed, size)
    specs = [f"random:{args.random}"] + [s for s in args.runs.split(",") if s]
    rows = {}
    print(
        "| backbone | instance top-1 | reid mAP | camera NN | mean cos | eff. rank |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for spec in specs:
        row = diagnose(spec, args, views, probe)
        rows[spec] = row
        print(
            f"| {spec} | {row['instance_top1']:.1f} | {row['reid_mAP']:.2f} | {row['camera_nn']:.1f} "
            f"| {row['mean_cos']:.3f} "
            f"| {row['eff_rank']:.1f} |",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
