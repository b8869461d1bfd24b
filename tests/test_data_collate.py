"""SAIPCollate / SAIPBatch: shapes, rescaled copies, determinism through a DataLoader (method.md §1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from saip.data import SAIPBatch, SAIPCollate, SAIPViewConfig, ViewDataset


class _Synthetic:
    """Stand-in for the synthetic dataset: dicts with an "image" key."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 256, (90, 40, 3), dtype=np.uint8) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return {"image": Image.fromarray(self.images[index]), "identity": index}


def _batch(config: SAIPViewConfig, seed: int = 0, indices: range = range(4), epoch: int = 0) -> SAIPBatch:
    dataset = ViewDataset(_Synthetic(max(indices) + 1), config, seed=seed)
    dataset.set_epoch(epoch)
    return SAIPCollate(config, seed=seed)([dataset[i] for i in indices])


def _tensors(batch: SAIPBatch) -> list[torch.Tensor]:
    out = [batch.index, batch.global_views, batch.local_views, *batch.scaled_views]
    out += [t for t in (batch.csr_view, batch.csr_mask, batch.canvas, batch.canvas_boxes) if t is not None]
    return out


def test_default_shapes() -> None:
    batch = _batch(SAIPViewConfig())
    B = 4
    assert batch.index.tolist() == [0, 1, 2, 3] and len(batch) == B
    assert batch.global_views.shape == (2, B, 3, 256, 128) and batch.global_views.dtype == torch.float32
    assert batch.local_views.shape == (8, B, 3, 128, 64)
    assert batch.scaled_sources == ["global1", "local0"]
    assert [v.shape[:2] for v in batch.scaled_views] == [(B, 3), (B, 3)]
    assert batch.csr_view.shape == (B, 3, 320, 160)
    assert batch.csr_mask.shape == (B, 200) and batch.csr_mask.dtype == torch.bool
    assert batch.csr_ids_keep.shape == (B, 50) and batch.csr_ids_restore.shape == (B, 200)
    assert ((~batch.csr_mask).sum(1) == 50).all()
    assert batch.canvas.shape == (B, 3, 224, 224)
    assert batch.canvas_boxes.shape == (B, 2, 4) and batch.canvas_boxes.dtype == torch.int64
    assert batch.canvas_masks.shape == (B, 2, 224, 224) and batch.canvas_masks.dtype == torch.bool
    assert batch.canvas_distractor_boxes.shape == (B, 0, 4)
    queries = batch.css_queries
    assert [tuple(q.shape) for q in queries] == [(B, 3, 256, 128), (B, 3, 128, 64)]
    assert torch.equal(queries[0], batch.global_views[0]) and torch.equal(queries[1], batch.local_views[-1])
    assert torch.equal(batch.csr_anchor, batch.global_views[0])
    moved = batch.to("cpu", non_blocking=True)
    assert isinstance(moved, SAIPBatch) and torch.equal(moved.canvas, batch.canvas)


def test_nondefault_shapes() -> None:
    config = SAIPViewConfig(
        global_size=(128, 64),
        local_size=(64, 32),
        n_local=3,
        n_scaled=3,
        csr_scale=1.5,
        canvas_size=(160, 96),
        n_distractors=1,
        canvas_background="noise",
        scale_set=(0.5, 2.0),
    )
    batch = _batch(config, indices=range(3))
    assert batch.global_views.shape == (2, 3, 3, 128, 64) and batch.local_views.shape == (3, 3, 3, 64, 32)
    assert batch.scaled_sources == ["global1", "local0", "global0"]
    assert batch.csr_view.shape == (3, 3, 192, 96) and batch.csr_mask.shape == (3, 72)
    assert batch.canvas.shape == (3, 3, 160, 96) and batch.canvas_masks.shape == (3, 2, 160, 96)
    assert batch.canvas_distractor_boxes.shape == (3, 1, 4)


def test_disabled_parts_are_not_computed() -> None:
    config = SAIPViewConfig(n_local=0, n_scaled=0, make_csr=False, make_canvas=False)
    batch = _batch(config)
    assert batch.local_views.shape == (0, 4, 3, 128, 64)
    assert batch.scaled_views == [] and batch.scaled_factors == []
    assert batch.csr_view is None and batch.csr_mask is None and batch.csr_ids_keep is None
    assert batch.canvas is None and batch.canvas_masks is None and batch.css_queries == []


@pytest.mark.parametrize("scale_set", [None, (0.75, 0.875, 1.125, 1.25)])
def test_rescaled_sizes_multiple_of_stride_and_factors_in_range(scale_set: tuple[float, ...] | None) -> None:
    config = SAIPViewConfig(
        global_size=(64, 32),
        local_size=(32, 16),
        n_local=1,
        n_scaled=2,
        make_canvas=False,
        make_csr=False,
        jitter_p=0.0,
        scale_set=scale_set,
    )
    dataset = ViewDataset(_Synthetic(24), config, seed=0)
    collate = SAIPCollate(config, seed=0)
    samples = [dataset[i] for i in range(24)]
    factors = []
    for first in range(0, 24, 2):
        batch = collate(samples[first : first + 2])
        for view, factor, source in zip(
            batch.scaled_views, batch.scaled_factors, batch.scaled_sources, strict=True
        ):
            h, w = view.shape[-2:]
            assert h % 16 == 0 and w % 16 == 0 and view.shape[:2] == (2, 3)
            base = batch.view(source).shape[-2:]
            assert abs(h - base[0] * factor) <= 8 and abs(w - base[1] * factor) <= 8
            factors.append(factor)
    if scale_set is None:
        assert all(0.75 <= f <= 1.5 for f in factors)
    else:
        assert set(factors) <= set(scale_set)
    assert len(set(factors)) > 3  # drawn per batch, not fixed


def test_same_seed_same_batch_different_seed_differs() -> None:
    config = SAIPViewConfig(n_local=2)
    a, b, c = _batch(config, seed=5), _batch(config, seed=5), _batch(config, seed=6)
    for x, y in zip(_tensors(a), _tensors(b), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.canvas_masks, b.canvas_masks) and torch.equal(a.csr_ids_keep, b.csr_ids_keep)
    assert not torch.equal(a.global_views, c.global_views)
    assert not torch.equal(a.canvas, c.canvas) and not torch.equal(a.csr_mask, c.csr_mask)
    assert not torch.equal(a.global_views, _batch(config, seed=5, epoch=1).global_views)


def test_dataloader_workers_do_not_change_batches() -> None:
    config = SAIPViewConfig(
        global_size=(64, 32), local_size=(32, 16), n_local=2, canvas_size=(96, 96), n_distractors=1
    )
    dataset = ViewDataset(_Synthetic(12), config, seed=11)
    dataset.set_epoch(3)
    runs = []
    for workers in (0, 2):
        sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(0))
        loader = DataLoader(
            dataset,
            batch_size=4,
            sampler=sampler,
            num_workers=workers,
            collate_fn=SAIPCollate(config, seed=11),
        )
        runs.append(list(loader))
    assert len(runs[0]) == len(runs[1]) == 3
    for x, y in zip(runs[0], runs[1], strict=True):
        assert x.epoch == y.epoch == 3
        for tx, ty in zip(_tensors(x), _tensors(y), strict=True):
            assert torch.equal(tx, ty)


def test_set_epoch_reaches_persistent_workers() -> None:
    config = SAIPViewConfig(global_size=(64, 32), local_size=(32, 16), n_local=1, canvas_size=(64, 64))
    dataset = ViewDataset(_Synthetic(4), config, seed=1)
    loader = DataLoader(
        dataset, batch_size=4, num_workers=2, persistent_workers=True, collate_fn=SAIPCollate(config, seed=1)
    )
    seen = []
    for epoch in range(2):
        dataset.set_epoch(epoch)
        seen.append(next(iter(loader)))
    assert [b.epoch for b in seen] == [0, 1]
    assert torch.equal(seen[1].global_views, _batch(config, seed=1, epoch=1).global_views)
