"""Image-to-image person ReID: frozen-feature retrieval and TransReID-style fine-tuning.

Protocols (method.md §3, reference-code.md §1.12):

* ``knn`` — frozen features: the image token (or mean patch token / both), L2-normalised, ranked
  by cosine similarity (faiss ``IndexFlatIP`` for large galleries, a torch matmul otherwise).
* ``finetune`` — TransReID (He et al., ICCV 2021) / "Bag of Tricks" (Luo et al., CVPRW 2019):
  image token → BNNeck (BatchNorm1d, bias frozen) → bias-free linear classifier; loss = ID
  cross-entropy with label smoothing 0.1 on the post-BN logits + batch-hard triplet loss (Hermans
  et al. 2017; margin 0.3 or soft margin) on the pre-BN feature; P×K sampling; AdamW with linear
  warm-up + cosine decay; augmentation flip + pad 10/random crop + random erasing (Zhong et al.
  2020). Evaluation uses the pre-BN feature, L2-normalised.

Scores: mAP and CMC Rank-1/5/10 under the Market-1501 rules (:mod:`saip.evaluate.metrics.reid`).
"""

from __future__ import annotations

import json
import logging
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
from saip.evaluate.datasets.market import ReidDataset, ReidSplit, load_reid_dataset, pk_batches, relabel
from saip.evaluate.features import ImageListDataset, Pooling, extract_features
from saip.evaluate.metrics.reid import QueryResults, rank_query_results, summarize
from saip.evaluate.optimise import optimise
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

log = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("knn", "finetune")
FAISS_MIN_GALLERY = 20_000  # below this a torch matmul + argsort is as fast and exact
_K_INSTANCES = 4


# ----------------------------------------------------------------------------- retrieval
def retrieval_metrics(
    query_feats: torch.Tensor,
    gallery_feats: torch.Tensor,
    query: ReidSplit,
    gallery: ReidSplit,
    backend: str = "auto",
    chunk: int = 512,
) -> dict[str, float]:
    """mAP / CMC of cosine-similarity retrieval of ``query_feats`` in ``gallery_feats``.

    Features are L2-normalised here. ``backend``: ``torch``, ``faiss`` (``IndexFlatIP``, exact) or
    ``auto`` (faiss from :data:`FAISS_MIN_GALLERY` gallery images on). Queries are processed in
    chunks so the ``(n_query, n_gallery)`` ranking never has to fit in memory at once.
    """
    if backend not in ("auto", "torch", "faiss"):
        raise ValueError(f"unknown retrieval backend {backend!r}; choose auto, torch or faiss")
    q = F.normalize(query_feats.float(), dim=1)
    g = F.normalize(gallery_feats.float(), dim=1)
    use_faiss = backend == "faiss" or (backend == "auto" and len(g) >= FAISS_MIN_GALLERY)
    index = None
    if use_faiss:
        import faiss

        index = faiss.IndexFlatIP(g.shape[1])
        index.add(np.ascontiguousarray(g.numpy(), dtype=np.float32))
    results: list[QueryResults] = []
    for start in range(0, len(q), chunk):
        qc = q[start : start + chunk]
        if index is not None:
            _, order = index.search(np.ascontiguousarray(qc.numpy(), dtype=np.float32), len(g))
        else:
            order = torch.argsort(-(qc @ g.T), dim=1, stable=True).numpy()
        sl = slice(start, start + chunk)
        results.append(
            rank_query_results(order, query.pids[sl], gallery.pids, query.camids[sl], gallery.camids)
        )
    return summarize(results)


def cap_query_gallery(
    query: ReidSplit, gallery: ReidSplit, max_images: int | None, rng: np.random.Generator
) -> tuple[ReidSplit, ReidSplit]:
    """Keep whole identities (all their query and gallery images), drawn at random, until about
    ``max_images`` images; distractor/junk images are dropped when capping."""
    if max_images is None or len(query) + len(gallery) <= max_images:
        return query, gallery
    ids = rng.permutation(np.unique(query.pids[query.pids > 0]))
    keep: list[int] = []
    total = 0
    for pid in ids:
        total += int((query.pids == pid).sum() + (gallery.pids == pid).sum())
        if total > max_images and len(keep) >= 2:
            break
        keep.append(int(pid))
    q_idx = np.flatnonzero(np.isin(query.pids, keep))
    g_idx = np.flatnonzero(np.isin(gallery.pids, keep))
    return query.subset(q_idx), gallery.subset(g_idx)


def cap_train(train: ReidSplit, max_images: int | None, rng: np.random.Generator) -> ReidSplit:
    """Keep whole training identities (junk dropped), drawn at random, up to ``max_images`` images."""
    valid = train.subset(np.flatnonzero(train.pids >= 0))
    if max_images is None or len(valid) <= max_images:
        return valid
    keep, total = [], 0
    for pid in rng.permutation(np.unique(valid.pids)):
        n = int((valid.pids == pid).sum())
        if total + n > max_images and len(keep) >= 2:
            break
        keep.append(int(pid))
        total += n
    return valid.subset(np.flatnonzero(np.isin(valid.pids, keep)))


def evaluate_frozen(
    backbone: nn.Module,
    info: BackboneInfo,
    query: ReidSplit,
    gallery: ReidSplit,
    img_size: tuple[int, int],
    pooling: Pooling = "token",
    device: str = "cpu",
    batch_size: int = 64,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """kNN protocol: frozen features of query and gallery images, cosine retrieval."""
    kwargs = dict(
        mean=info.mean,
        std=info.std,
        size=img_size,
        pooling=pooling,
        device=device,
        batch_size=batch_size,
        runtime=runtime,
    )
    return retrieval_metrics(
        extract_features(backbone, query.paths, **kwargs),
        extract_features(backbone, gallery.paths, **kwargs),
        query,
        gallery,
    )


# ----------------------------------------------------------------------------- fine-tuning
class BNNeck(nn.Module):
    """BNNeck of Luo et al. 2019: BatchNorm1d with a frozen zero bias, then a bias-free classifier.

    ``forward(feat)`` returns the ID logits computed from the normalised feature.
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.bn(feat))


def batch_hard_triplet_loss(
    feats: torch.Tensor, labels: torch.Tensor, margin: float | None = 0.3
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017): for each anchor, the farthest positive and the
    closest negative in the batch (Euclidean distance). ``margin=None`` = soft margin
    ``log(1 + exp(d_ap - d_an))``; else ``max(0, d_ap - d_an + margin)``. Anchors without a positive
    or a negative in the batch are skipped."""
    dist = torch.cdist(feats, feats).clamp_min(1e-12)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=feats.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = pos_mask.any(1) & neg_mask.any(1)
    if not valid.any():
        raise ValueError("triplet loss needs at least one anchor with a positive and a negative in the batch")
    d_ap = torch.where(pos_mask, dist, torch.full_like(dist, -1.0)).max(1).values[valid]
    d_an = torch.where(neg_mask, dist, torch.full_like(dist, float("inf"))).min(1).values[valid]
    if margin is None:
        return F.softplus(d_ap - d_an).mean()
    return F.relu(d_ap - d_an + margin).mean()


def reid_augment(
    images: torch.Tensor, generator: torch.Generator, pad: int = 10, erase_prob: float = 0.5
) -> torch.Tensor:
    """Training augmentation of normalised images ``(B, 3, H, W)``: horizontal flip (p 0.5), zero
    padding by ``pad`` then a random crop back to H×W, random erasing (Zhong et al. 2020: area
    2–40 %, aspect 0.3–3.3, filled with 0 = the mean colour)."""
    b, _, h, w = images.shape
    flip = torch.rand(b, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    padded = F.pad(images, (pad, pad, pad, pad))
    out = torch.empty_like(images)
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator)
    for i in range(b):
        y, x = offsets[i].tolist()
        out[i] = padded[i, :, y : y + h, x : x + w]
    for i in range(b):
        if torch.rand(1, generator=generator).item() >= erase_prob:
            continue
        for _ in range(10):
            area = h * w * (0.02 + 0.38 * torch.rand(1, generator=generator).item())
            aspect = float(
                np.exp(np.log(0.3) + (np.log(3.3) - np.log(0.3)) * torch.rand(1, generator=generator).item())
            )
            eh, ew = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if 0 < eh < h and 0 < ew < w:
                y = int(torch.randint(0, h - eh + 1, (1,), generator=generator))
                x = int(torch.randint(0, w - ew + 1, (1,), generator=generator))
                out[i, :, y : y + eh, x : x + ew] = 0.0
                break
    return out


def finetune(
    backbone: nn.Module,
    info: BackboneInfo,
    data: ReidDataset,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    soft_margin: bool = False,
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """TransReID-style fine-tuning on ``data.train``, then retrieval with the pre-BN feature.

    Returns the metrics and the per-step training loss. ``runtime``: decoding workers, autocast, bars.
    """
    runtime = resolve_runtime(runtime)
    rng = np.random.default_rng(seed)
    size = budget.img_size or info.img_size
    train = cap_train(data.train, budget.max_train_images, rng)
    labels, num_classes = relabel(train.pids)
    total = budget.total_steps(len(train))
    p = max(2, budget.batch_size // _K_INSTANCES)
    batches = pk_batches(labels, p, _K_INSTANCES, total, rng)
    loader = runtime.loader(ImageListDataset(train.paths, size), batch_sampler=batches, device=device)
    torch.manual_seed(seed)  # the head's init (as the dense tasks seed theirs)
    head = BNNeck(info.embed_dim, num_classes).to(device)
    backbone.to(device).train()
    params = [p_ for p_ in list(backbone.parameters()) + list(head.parameters()) if p_.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    labels_t = torch.as_tensor(labels)
    batches_iter = iter(loader)

    def step_loss(step: int) -> torch.Tensor:
        images, index = next(batches_iter)
        x = reid_augment(normalize_uint8(images, info.mean, info.std), generator).to(device)
        y = labels_t[index].to(device)
        with runtime.autocast(device):
            feat = backbone(x).image_token
            return F.cross_entropy(head(feat), y, label_smoothing=0.1) + batch_hard_triplet_loss(
                feat.float(), y, margin=None if soft_margin else 0.3
            )

    losses = optimise(params, budget, total, step_loss, 1e-4, "ReID fine-tuning", runtime)
    backbone.eval()
    query, gallery = cap_query_gallery(data.query, data.gallery, budget.max_eval_images, rng)
    metrics = evaluate_frozen(backbone, info, query, gallery, size, "token", device, runtime=runtime)
    return metrics, losses


# ----------------------------------------------------------------------------- task entry point
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
    """Evaluate ``backbone_spec`` on the ReID data at ``data_root`` (Market-1501/MSMT17 folder or a
    saip data root with ``reid/``); writes ``out_dir/reid.json`` and returns the metrics (in %).
    ``runtime``: loader workers, autocast and progress bars (:class:`EvalRuntime`)."""
    task_budget = get_budget(budget, "reid", protocol)
    if task_budget.protocol not in PROTOCOLS:
        raise ValueError(
            f"unknown ReID protocol {task_budget.protocol!r}; choose from {', '.join(PROTOCOLS)}"
        )
    data = load_reid_dataset(Path(data_root))
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    if task_budget.protocol == "knn":
        rng = np.random.default_rng(seed)
        query, gallery = cap_query_gallery(data.query, data.gallery, task_budget.max_eval_images, rng)
        size = task_budget.img_size or info.img_size
        metrics = evaluate_frozen(backbone, info, query, gallery, size, pooling, device, runtime=runtime)
        losses: list[float] = []
    else:
        metrics, losses = finetune(backbone, info, data, task_budget, seed, device, runtime=runtime)
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task": "reid",
        "dataset": data.name,
        "backbone": info.source,
        "protocol": task_budget.protocol,
        "pooling": pooling,
        "budget": budget,
        "budget_settings": asdict(task_budget),
        "seed": seed,
        "metrics": metrics,
        "train_loss": losses,
    }
    (out_dir / "reid.json").write_text(json.dumps(record, indent=2))
    return metrics
