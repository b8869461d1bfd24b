"""The built-in quality probe: does the pretrained backbone beat the same architecture at random init?

Pretraining losses do not tell whether features transfer (peers.md, "What users ask for" §1, §10:
maintainers tune on kNN/linear probes, not on the loss). At the end of ``saip pretrain`` this probe
measures, on **held-out identities** and with **frozen** features:

* kNN person ReID (:func:`saip.evaluate.reid.retrieval_metrics`, cosine, Market-1501 rules): mAP, Rank-1;
* a linear attribute probe (:func:`saip.evaluate.attributes.fit_linear_probe`, weighted BCE): mA;

for the trained backbone and for a seeded random init of the same architecture, and reports the
margins. By default the data is rendered in memory by :class:`saip.synth.dataset.SyntheticPersonDataset`
from identity ``PROBE_FIRST_IDENTITY`` on (far from any pretraining identity range); any Market-1501
folder (optionally with an attribute table beside it) can be given instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from saip.evaluate.attributes import fit_linear_probe, predict_linear
from saip.evaluate.backbone_loader import BackboneInfo, random_counterpart
from saip.evaluate.datasets.attribute_table import AttributeSplit, load_attribute_table
from saip.evaluate.datasets.market import ReidSplit, load_reid_dataset
from saip.evaluate.features import Pooling, extract_features, load_images
from saip.evaluate.metrics.attributes import attribute_metrics
from saip.evaluate.reid import cap_query_gallery, retrieval_metrics
from saip.evaluate.runtime import EvalRuntime

PROBE_FIRST_IDENTITY = 1_000_000  # ReID probe identities (pretraining worlds use ids from 0)
PROBE_ATTRIBUTE_TRAIN_OFFSET = 500_000  # attribute-probe training identities, disjoint from the above
PROBE_IMAGES_PER_ID = 6  # frames 0-2 are queries, 3-5 gallery (other cameras)
PROBE_SIZE = (128, 64)
MIN_MARGIN = 1.0  # points of mAP / mA below which the trained backbone is "not better"
# (backbone, uint8 images, mean, std, device=, pooling=, runtime=) -> (N, D) features: extract_features or a
# drop-in (the mid-run probe under DDP splits the batches over the ranks, saip.pretrain.probe_shards)
FeatureExtractor = Callable[..., torch.Tensor]


@dataclass
class ProbeData:
    """uint8 images and labels the probe scores on (attribute parts may be absent)."""

    query: torch.Tensor
    gallery: torch.Tensor
    query_split: ReidSplit
    gallery_split: ReidSplit
    attr_train: torch.Tensor | None = None
    attr_train_targets: np.ndarray | None = None
    attr_test: torch.Tensor | None = None
    attr_test_targets: np.ndarray | None = None


def _stack(items: list[dict], key: str = "image") -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.array(it[key].convert("RGB"))).permute(2, 0, 1) for it in items])


def synthetic_probe_data(max_images: int, seed: int, size: tuple[int, int] = PROBE_SIZE) -> ProbeData:
    """Render the probe set in memory: ``max_images // 6`` held-out identities × 6 images for ReID
    (attribute test set: the same images) and half as many other identities × 3 images to train the
    attribute probe."""
    from saip.synth.dataset import SyntheticPersonDataset

    n_ids = max(4, max_images // PROBE_IMAGES_PER_ID)
    reid = SyntheticPersonDataset(
        n_ids, PROBE_IMAGES_PER_ID, seed=seed, first_identity=PROBE_FIRST_IDENTITY, size=size, labels=True
    )
    items = [reid[i] for i in range(len(reid))]
    frames = np.arange(len(items)) % PROBE_IMAGES_PER_ID
    pids = np.array([it["pid"] for it in items])
    camids = np.array([it["camid"] for it in items])
    images = _stack(items)
    q, g = (
        np.flatnonzero(frames < PROBE_IMAGES_PER_ID // 2),
        np.flatnonzero(frames >= PROBE_IMAGES_PER_ID // 2),
    )
    split = ReidSplit([Path(f"synthetic/{i}") for i in range(len(items))], pids, camids)
    attr_src = SyntheticPersonDataset(
        max(4, n_ids // 2),
        3,
        seed=seed,
        first_identity=PROBE_FIRST_IDENTITY + PROBE_ATTRIBUTE_TRAIN_OFFSET,
        size=size,
        labels=True,
    )
    attr_items = [attr_src[i] for i in range(len(attr_src))]
    return ProbeData(
        images[q],
        images[g],
        split.subset(q),
        split.subset(g),
        _stack(attr_items),
        np.stack([it["attributes"] for it in attr_items]).astype(np.int64),
        images,
        np.stack([it["attributes"] for it in items]).astype(np.int64),
    )


def folder_probe_data(
    root: Path, max_images: int, seed: int, size: tuple[int, int], runtime: EvalRuntime | None = None
) -> ProbeData:
    """Probe set from a Market-1501 folder (test query/gallery, capped by identity) and, when one is
    found beside it, an attribute table (train/test splits, capped); decoded by ``runtime``'s workers."""
    rng = np.random.default_rng(seed)
    reid = load_reid_dataset(root)
    query, gallery = cap_query_gallery(reid.query, reid.gallery, max_images, rng)
    data = ProbeData(
        load_images(query.paths, size, runtime), load_images(gallery.paths, size, runtime), query, gallery
    )
    try:
        table = load_attribute_table(root)
    except FileNotFoundError:
        return data

    def cap(split: AttributeSplit) -> AttributeSplit:
        if len(split) <= max_images:
            return split
        return split.subset(np.sort(rng.choice(len(split), max_images, replace=False)))

    train, test = cap(table.train), cap(table.test)
    data.attr_train, data.attr_train_targets = load_images(train.paths, size, runtime), train.targets
    data.attr_test, data.attr_test_targets = load_images(test.paths, size, runtime), test.targets
    return data


def score_backbone(
    backbone: nn.Module,
    info: BackboneInfo,
    data: ProbeData,
    device: str = "cpu",
    linear_steps: int = 300,
    seed: int = 0,
    pooling: Pooling = "token",
    extract: FeatureExtractor = extract_features,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Frozen-feature kNN ReID mAP/Rank-1 and linear-probe attribute mA of one backbone (features from
    ``extract``, :func:`saip.evaluate.features.extract_features` by default, with ``runtime``)."""

    def feats(images: torch.Tensor) -> torch.Tensor:
        return extract(backbone, images, info.mean, info.std, device=device, pooling=pooling, runtime=runtime)

    reid = retrieval_metrics(feats(data.query), feats(data.gallery), data.query_split, data.gallery_split)
    out = {"reid_mAP": reid["mAP"], "reid_rank1": reid["rank1"]}
    if data.attr_train is not None and data.attr_test is not None:
        layer, mean, std = fit_linear_probe(
            feats(data.attr_train), data.attr_train_targets, linear_steps, seed
        )
        pred = predict_linear(layer, mean, std, feats(data.attr_test))
        out["attr_mA"] = attribute_metrics(pred, data.attr_test_targets)["mA"]
    return out


def probe_size(backbone_size: tuple[int, int] | None) -> tuple[int, int]:
    """The probe's input size for a backbone trained at ``backbone_size``: that size, capped at
    :data:`PROBE_SIZE` per side (a 64×32 model is probed at 64×32, not at twice what it saw; the
    paper's 256×128 models at 128×64 to keep the probe under a minute on a CPU)."""
    if backbone_size is None:
        return PROBE_SIZE
    return (min(int(backbone_size[0]), PROBE_SIZE[0]), min(int(backbone_size[1]), PROBE_SIZE[1]))


def run_probe(
    backbone: nn.Module,
    info: BackboneInfo,
    data_root: Path | None = None,
    seed: int = 0,
    device: str = "cpu",
    max_images: int = 600,
    img_size: tuple[int, int] | None = None,
    random_backbone: nn.Module | None = None,
    pooling: Pooling = "token",
    extract: FeatureExtractor = extract_features,
    runtime: EvalRuntime | None = None,
) -> dict:
    """Score ``backbone`` and a random init of its architecture on held-out identities.

    Args:
        backbone, info: the trained backbone and its :class:`BackboneInfo` (mean/std, arch, size).
        data_root: a Market-1501 folder or saip data root; ``None`` = in-memory synthetic identities.
        seed: seed of the synthetic world (use the pretraining data's seed) and of the random init.
        max_images: ReID images (query + gallery); the attribute probe uses about half as many more.
        img_size: probe input size (H, W), multiples of 16; default :func:`probe_size` of the backbone's
            own input size (128×64 at most, which keeps the probe < 1 min on CPU).
        random_backbone: the baseline; default: :func:`random_counterpart` of ``info`` with ``seed``.
        pooling: the image feature, see :func:`saip.evaluate.features.pool_output`.
        extract: the feature extractor (a drop-in for :func:`extract_features`).
        runtime: decoding workers, autocast and progress bars (:class:`EvalRuntime`).

    Returns:
        ``{"trained": {...}, "random_init": {...}, "margin": {...}, "data": {...}, "seconds": float}``
        with ``reid_mAP``, ``reid_rank1`` and (when attribute labels exist) ``attr_mA`` in %.
    """
    start = time.perf_counter()
    if img_size is None:
        img_size = probe_size(info.img_size)
    if data_root is None:
        data, source = synthetic_probe_data(max_images, seed, img_size), "synthetic (held-out identities)"
    else:
        data = folder_probe_data(Path(data_root), max_images, seed, img_size, runtime)
        source = str(data_root)
    if random_backbone is None:
        random_backbone, _ = random_counterpart(info, seed)
    was_training = backbone.training
    kwargs = dict(seed=seed, pooling=pooling, extract=extract, runtime=runtime)
    trained = score_backbone(backbone.to(device), info, data, device, **kwargs)
    baseline = score_backbone(random_backbone.to(device), info, data, device, **kwargs)
    backbone.train(was_training)
    return {
        "trained": trained,
        "random_init": baseline,
        "margin": {k: trained[k] - baseline[k] for k in trained},
        "data": {
            "source": source,
            "query": len(data.query),
            "gallery": len(data.gallery),
            "identities": data.query_split.num_ids,
            "img_size": list(img_size),
            "pooling": pooling,
            "attribute_train": 0 if data.attr_train is None else len(data.attr_train),
            "attribute_test": 0 if data.attr_test is None else len(data.attr_test),
        },
        "seconds": time.perf_counter() - start,
    }


def format_probe_table(result: dict) -> str:
    """A small Markdown table: metric | trained | random init | margin."""
    lines = ["| probe metric | trained | random init | margin |", "|---|---:|---:|---:|"]
    for key, value in result["trained"].items():
        lines.append(
            f"| {key} | {value:.1f} | {result['random_init'][key]:.1f} | {result['margin'][key]:+.1f} |"
        )
    data = result.get("data", {})
    if data:
        lines.append(
            f"\n{data.get('identities')} identities, {data.get('query')} queries / "
            f"{data.get('gallery')} gallery images from {data.get('source')}"
        )
    return "\n".join(lines)


def probe_verdict(result: dict, min_margin: float = MIN_MARGIN) -> str | None:
    """A warning when the trained backbone is not better than random init (every margin < ``min_margin``
    points, on ReID mAP and, when measured, attribute mA); ``None`` when it is."""
    margin = result["margin"]
    keys = [k for k in ("reid_mAP", "attr_mA") if k in margin]
    if any(margin[k] >= min_margin for k in keys):
        return None
    shown = ", ".join(f"{k} {margin[k]:+.1f}" for k in keys)
    return (
        f"WARNING: the trained backbone is not better than a random init of the same architecture "
        f"({shown} points). Pretraining may have collapsed or be far too short: check the loss "
        "curves (csm/teacher_entropy) and the data."
    )
