"""Text-to-image person retrieval (the IRRA protocol, Jiang & Ye, CVPR 2023).

The backbone's image token and a caption encoder are projected to one embedding space and trained
jointly on the training (image, caption) pairs with IRRA's similarity distribution matching loss
and the identity loss (:mod:`saip.evaluate.heads.sdm`; IRRA's third objective, implicit relation
reasoning by masked language modelling, needs a pretrained text model and is left out). Text
encoder: a transformer trained from scratch with a BPE tokenizer learned on the training captions
(:mod:`saip.evaluate.text`). Evaluation: every test caption queries the test images by cosine
similarity; Rank-1/5/10, mAP and mINP (:mod:`saip.evaluate.metrics.retrieval`).

Protocols: ``finetune`` (IRRA: the backbone is trained too, at the budget's lr; the new modules at
5× it, IRRA's ``lr_factor``) or ``frozen`` (the backbone's features are computed once; only the
projection, the text encoder and the classifier learn).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from saip.data.normalize import normalize_uint8
from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.pedes import CaptionedImage, load_pedes, resolve_pedes_layout
from saip.evaluate.features import load_images
from saip.evaluate.heads.finetune import PROTOCOLS as FINETUNE_PROTOCOLS
from saip.evaluate.heads.sdm import id_loss, sdm_loss
from saip.evaluate.metrics.retrieval import retrieval_metrics
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.task_record import write_task_record
from saip.evaluate.text.encoder import TextEncoder
from saip.evaluate.text.tokenizer import encode_captions, save_caption_tokenizer, train_caption_tokenizer

PROTOCOLS = FINETUNE_PROTOCOLS  # finetune (IRRA) | frozen
DEFAULT_INPUT_SIZE = (384, 128)  # IRRA's input
EMBED_DIM = 256
# Text encoder (width, blocks, heads) per budget preset: small enough for CPU minutes under quick.
TEXT_ENCODERS: dict[str, tuple[int, int, int]] = {
    "quick": (128, 2, 4),
    "standard": (256, 4, 4),
    "paper": (512, 6, 8),
}
NEW_MODULE_LR_FACTOR = 5.0  # IRRA: randomly initialised modules learn at 5× the backbone's rate
WEIGHT_DECAY = 4e-5  # IRRA
TEST_SPLIT = "test"


class RetrievalModel(nn.Module):
    """Image branch (backbone image token → linear) and text branch (:class:`TextEncoder`) into one
    ``embed_dim`` space, plus the identity classifier shared by both (IRRA's ID loss)."""

    def __init__(
        self,
        backbone: nn.Module,
        vocab_size: int,
        num_ids: int,
        embed_dim: int = EMBED_DIM,
        text_size: tuple[int, int, int] = TEXT_ENCODERS["standard"],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.image_proj = nn.Linear(int(backbone.embed_dim), embed_dim)
        width, depth, heads = text_size
        self.text = TextEncoder(vocab_size, embed_dim, width, depth, heads)
        self.classifier = nn.Linear(embed_dim, max(num_ids, 1))

    def image_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone image tokens ``(B, D)`` of normalised images."""
        return self.backbone(images).image_token

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Caption embeddings ``(B, E)``; padding columns beyond the longest caption are dropped."""
        length = int((ids != 0).sum(dim=1).max().clamp(min=1))
        return self.text(ids[:, :length])


def _pairs(images: list[CaptionedImage]) -> tuple[list[str], np.ndarray]:
    """All (caption, image index) pairs: IRRA trains on every pair."""
    captions, owner = [], []
    for i, item in enumerate(images):
        captions += list(item.captions)
        owner += [i] * len(item.captions)
    return captions, np.asarray(owner, dtype=np.int64)


def _cap_images(items: list[CaptionedImage], cap: int | None, rng: np.random.Generator | None) -> list:
    if cap is None or len(items) <= cap:
        return items
    if rng is None:  # evaluation: the first images in file order (whole identities in saip's data)
        return items[:cap]
    return [items[i] for i in sorted(rng.choice(len(items), cap, replace=False))]


def train_retrieval(
    model: RetrievalModel,
    inputs: torch.Tensor,
    caption_ids: torch.Tensor,
    owner: np.ndarray,
    labels: torch.Tensor,
    budget: TaskBudget,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    seed: int = 0,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> list[float]:
    """Train on every (image, caption) pair with ``L_sdm + L_id``, under ``runtime``'s autocast; returns
    the per-step losses.

    ``inputs`` are uint8 images ``(N, 3, H, W)`` (``finetune``: random horizontal flip, as IRRA) or,
    for ``frozen``, cached backbone tokens ``(2, N, D)`` of the images and their mirror images;
    ``caption_ids`` ``(M, L)`` token ids, ``owner`` ``(M,)`` the image of each caption, ``labels``
    ``(N,)`` contiguous training identities.
    """
    runtime = resolve_runtime(runtime)
    frozen = budget.protocol == "frozen"
    total = budget.total_steps(len(owner))
    new_params = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    groups = [{"params": new_params, "lr": budget.lr * NEW_MODULE_LR_FACTOR}]
    if not frozen:
        groups.append({"params": list(model.backbone.parameters()), "lr": budget.lr})
    for group in groups:
        group["base_lr"] = group["lr"]
    optimizer = torch.optim.AdamW(groups, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(seed)
    batch = min(budget.batch_size, len(owner))
    order = rng.permutation(len(owner))
    cursor, losses = 0, []
    model.train()
    if frozen:
        model.backbone.eval()
    for step in runtime.bar(range(total), "t2i head", unit="step"):
        if cursor + batch > len(order):
            order, cursor = rng.permutation(len(owner)), 0
        pick = order[cursor : cursor + batch]
        cursor += batch
        image_index = torch.from_numpy(owner[pick])
        flip = torch.from_numpy(rng.random(batch) < 0.5)
        pids = labels[image_index].to(device)
        with runtime.autocast(device):
            if frozen:
                tokens = inputs[flip.long(), image_index].to(device)
            else:
                images = inputs[image_index]
                images = torch.where(flip[:, None, None, None], images.flip(-1), images)
                tokens = model.image_tokens(normalize_uint8(images.to(device), mean, std))
            image_emb = model.image_proj(tokens).float()
            text_emb = model.encode_text(caption_ids[pick].to(device)).float()
            loss = sdm_loss(image_emb, text_emb, pids) + id_loss(
                model.classifier(image_emb).float(), model.classifier(text_emb).float(), pids
            )
        if not torch.isfinite(loss):
            raise FloatingPointError(f"t2i: non-finite loss at step {step}")
        scale = budget.lr_at(step, total) / budget.lr
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * scale
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def _backbone_tokens(
    model: RetrievalModel,
    images: torch.Tensor,
    mean: tuple,
    std: tuple,
    device: str,
    runtime: EvalRuntime,
    batch_size: int = 64,
) -> torch.Tensor:
    model.backbone.eval()
    out = []
    for i in runtime.bar(range(0, len(images), batch_size), "features"):
        with runtime.autocast(device):
            x = normalize_uint8(images[i : i + batch_size].to(device), mean, std)
            out.append(model.image_tokens(x).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def _text_embeddings(
    model: RetrievalModel, ids: torch.Tensor, device: str, runtime: EvalRuntime, batch_size: int = 256
) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(ids), batch_size):
        with runtime.autocast(device):
            out.append(model.encode_text(ids[i : i + batch_size].to(device)).float().cpu())
    return torch.cat(out)


def evaluate_t2i(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train: list[CaptionedImage],
    test: list[CaptionedImage],
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    tokenizer_path: Path | None = None,
    text_size: tuple[int, int, int] = TEXT_ENCODERS["standard"],
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train the retrieval model on ``train`` and score text→image retrieval on ``test``.

    ``text_size`` is the text encoder's (width, blocks, heads). Returns the metrics (Rank-1/5/10,
    mAP, mINP in %) and the training losses; the tokenizer is written to ``tokenizer_path`` when given.
    ``runtime``: decoding workers, autocast and progress bars.
    """
    runtime = resolve_runtime(runtime)
    if budget.protocol not in PROTOCOLS:
        raise ValueError(f"unknown t2i protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    rng = np.random.default_rng(seed)
    train = _cap_images(train, budget.max_train_images, rng)
    test = _cap_images(test, budget.max_eval_images, None)
    if not train or not test:
        raise ValueError("text-to-image evaluation needs captioned images in both the train and test splits")
    size = tuple(budget.img_size or DEFAULT_INPUT_SIZE)
    captions, owner = _pairs(train)
    tokenizer = train_caption_tokenizer(captions)
    if tokenizer_path is not None:
        save_caption_tokenizer(tokenizer, tokenizer_path)
    pid_index = {pid: i for i, pid in enumerate(sorted({item.pid for item in train}))}
    labels = torch.tensor([pid_index[item.pid] for item in train], dtype=torch.long)
    torch.manual_seed(seed)
    model = RetrievalModel(backbone, tokenizer.get_vocab_size(), len(pid_index), text_size=text_size)
    model = model.to(device)
    if budget.protocol == "frozen":
        model.backbone.requires_grad_(False)
    train_images = load_images([item.path for item in train], size, runtime)
    if budget.protocol == "frozen":
        inputs = torch.stack(
            [
                _backbone_tokens(model, imgs, mean, std, device, runtime)
                for imgs in (train_images, train_images.flip(-1))
            ]
        )
    else:
        inputs = train_images
    caption_ids = encode_captions(tokenizer, captions)
    losses = train_retrieval(
        model, inputs, caption_ids, owner, labels, budget, mean, std, seed, device, runtime
    )
    with torch.no_grad():
        test_images = load_images([item.path for item in test], size, runtime)
        gallery_tokens = _backbone_tokens(model, test_images, mean, std, device, runtime)
        gallery = model.image_proj(gallery_tokens.to(device)).cpu()
    query_captions, query_owner = _pairs(test)
    queries = _text_embeddings(model, encode_captions(tokenizer, query_captions), device, runtime)
    similarity = (
        torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(gallery, dim=1).t()
    )
    gallery_pids = np.array([item.pid for item in test])
    metrics = retrieval_metrics(similarity.numpy(), gallery_pids[query_owner], gallery_pids)
    metrics["num_gallery"] = float(len(test))
    return metrics, losses


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
    """Evaluate ``backbone_spec`` on the text-to-image dataset at ``data_root`` (CUHK-PEDES,
    ICFG-PEDES or RSTPReid layout, or saip's ``t2i/``); writes ``out_dir/t2i.json`` and
    ``out_dir/tokenizer.json`` and returns Rank-1/5/10, mAP, mINP (in %) and ``seconds``.
    ``runtime``: loader workers, autocast and progress bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "t2i", protocol)
    text_size = TEXT_ENCODERS.get(budget, TEXT_ENCODERS["standard"])
    layout = resolve_pedes_layout(Path(data_root))
    splits = load_pedes(layout)
    for split in ("train", TEST_SPLIT):
        if split not in splits:
            raise ValueError(f"{layout.annotation_file}: no images in split {split!r}")
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    scores, losses = evaluate_t2i(
        backbone, info.mean, info.std, splits["train"], splits[TEST_SPLIT], task_budget, seed, device,
        tokenizer_path=out_dir / "tokenizer.json", text_size=text_size, runtime=runtime,
    )  # fmt: skip
    metrics = {k: scores[k] for k in ("rank1", "rank5", "rank10", "mAP", "mINP")}
    metrics["seconds"] = time.perf_counter() - start
    write_task_record(
        out_dir,
        "t2i",
        dataset=str(layout.annotation_file),
        backbone=info.source,
        budget=budget,
        task_budget=task_budget,
        input_size=list(task_budget.img_size or DEFAULT_INPUT_SIZE),
        seed=seed,
        metrics=metrics,
        scores=scores,
        losses=losses,
        format=layout.fmt,
        text_encoder=f"transformer from scratch ({text_size[1]} blocks, width {text_size[0]}), BPE "
        "tokenizer trained on the training captions",
    )
    return metrics
