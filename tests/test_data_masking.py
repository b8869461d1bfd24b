"""random_masking: exact visible counts, MAE ids_restore convention (method.md §1, CSR)."""

from __future__ import annotations

import pytest
import torch

from saip.data import num_visible, random_masking


@pytest.mark.parametrize(
    ("L", "ratio"), [(200, 0.75), (128, 0.75), (10, 0.75), (7, 0.5), (33, 0.9), (1, 0.4)]
)
def test_visible_count_exact_and_consistent(L: int, ratio: float) -> None:
    B = 6
    ids_keep, mask, ids_restore = random_masking(B, L, ratio, torch.Generator().manual_seed(0))
    n_keep = L - int(L * ratio + 0.5)
    assert n_keep == num_visible(L, ratio)
    assert ids_keep.shape == (B, n_keep) and ids_keep.dtype == torch.int64
    assert mask.shape == (B, L) and mask.dtype == torch.bool
    assert ((~mask).sum(1) == n_keep).all()
    # ids_keep are exactly the unmasked positions, ascending
    assert torch.equal(torch.gather(mask, 1, ids_keep), torch.zeros_like(ids_keep, dtype=torch.bool))
    assert (ids_keep.diff(dim=1) > 0).all()
    # restore: [visible, masked] gathered with ids_restore is patch order
    masked_ids = torch.stack([torch.nonzero(row).flatten() for row in mask])
    shuffled = torch.cat([ids_keep, masked_ids], dim=1)
    assert torch.equal(torch.gather(shuffled, 1, ids_restore), torch.arange(L).expand(B, L))


def test_rows_differ_and_seeded() -> None:
    _, mask_a, _ = random_masking(8, 200, 0.75, torch.Generator().manual_seed(1))
    _, mask_b, _ = random_masking(8, 200, 0.75, torch.Generator().manual_seed(1))
    _, mask_c, _ = random_masking(8, 200, 0.75, torch.Generator().manual_seed(2))
    assert torch.equal(mask_a, mask_b) and not torch.equal(mask_a, mask_c)
    assert len({tuple(row.tolist()) for row in mask_a}) == 8


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_bad_ratio(ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        random_masking(2, 16, ratio)


def test_tensor_batch_argument() -> None:
    ids_keep, _, _ = random_masking(torch.zeros(3, 10, 5), 16, 0.75)
    assert ids_keep.shape == (3, 4)
