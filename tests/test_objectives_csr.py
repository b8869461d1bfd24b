"""Tests of CSR (cross-scale reconstruction): patchify, masking, pos-embed, decoder, loss."""

from __future__ import annotations

import math

import pytest
import torch

import saip  # noqa: F401  (torchvision shim before timm)
from saip.objectives import CSRDecoder, csr_loss, get_2d_sincos_pos_embed, patchify, unpatchify


def random_masking(
    B: int, L: int, ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE masking (ids_keep = ids_shuffle[:, :n_keep]), kept here so these tests do not need saip.data."""
    n_keep = L - int(L * ratio + 0.5)
    ids_shuffle = torch.rand(B, L, generator=generator).argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask.scatter_(1, ids_shuffle[:, :n_keep], False)
    return ids_shuffle[:, :n_keep], ids_restore, mask


def test_patchify_order_matches_naive_and_round_trips() -> None:
    g = torch.Generator().manual_seed(0)
    B, C, p, h, w = 2, 3, 4, 2, 3
    img = torch.randn(B, C, h * p, w * p, generator=g)
    patches = patchify(img, p)
    assert patches.shape == (B, h * w, p * p * C)
    for b in range(B):
        for i in range(h):
            for j in range(w):
                for u in range(p):
                    for v in range(p):
                        for c in range(C):
                            assert (
                                patches[b, i * w + j, (u * p + v) * C + c] == img[b, c, i * p + u, j * p + v]
                            )
    torch.testing.assert_close(unpatchify(patches, (h, w), p, C), img)


def _naive_csr_loss(
    pred: torch.Tensor, img: torch.Tensor, mask: torch.Tensor, p: int, norm_pix: bool
) -> float:
    B, C, H, W = img.shape
    h, w = H // p, W // p
    total, count = 0.0, 0
    for b in range(B):
        for i in range(h):
            for j in range(w):
                l_idx = i * w + j
                if not mask[b, l_idx]:
                    continue
                vals = [
                    float(img[b, c, i * p + u, j * p + v])
                    for u in range(p)
                    for v in range(p)
                    for c in range(C)
                ]
                if norm_pix:
                    mean = sum(vals) / len(vals)
                    var = sum((x - mean) ** 2 for x in vals) / (len(vals) - 1)  # unbiased, as MAE
                    vals = [(x - mean) / math.sqrt(var + 1e-6) for x in vals]
                total += sum((float(pred[b, l_idx, k]) - vals[k]) ** 2 for k in range(len(vals))) / len(vals)
                count += 1
    return total / count


@pytest.mark.parametrize("norm_pix", [True, False])
def test_csr_loss_matches_naive(norm_pix: bool) -> None:
    g = torch.Generator().manual_seed(1)
    B, C, p, h, w = 2, 3, 2, 3, 2
    img = torch.randn(B, C, h * p, w * p, generator=g) * 2 + 0.5
    pred = torch.randn(B, h * w, p * p * C, generator=g)
    mask = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1]], dtype=torch.bool)
    got = csr_loss(pred, img, mask, patch_size=p, norm_pix=norm_pix)
    assert got.item() == pytest.approx(_naive_csr_loss(pred, img, mask, p, norm_pix), rel=1e-5)


def test_csr_loss_ignores_visible_patches() -> None:
    g = torch.Generator().manual_seed(2)
    img = torch.randn(2, 3, 8, 8, generator=g)
    pred = torch.randn(2, 16, 12, generator=g, requires_grad=True)
    mask = torch.rand(2, 16, generator=g) > 0.5
    loss = csr_loss(pred, img, mask, patch_size=2)
    changed = pred.detach().clone()
    changed[~mask] += 100.0
    assert csr_loss(changed, img, mask, patch_size=2).item() == pytest.approx(loss.item(), rel=1e-6)
    changed[mask] += 1.0
    assert csr_loss(changed, img, mask, patch_size=2).item() != pytest.approx(loss.item(), rel=1e-3)
    loss.backward()
    assert torch.all(pred.grad[~mask] == 0) and torch.all(pred.grad[mask].abs().sum(-1) > 0)


def test_decoder_accepts_saip_data_masking_convention() -> None:
    """The data pipeline's masks (sorted ids_keep) must unshuffle to the same grid positions."""
    masking = pytest.importorskip("saip.data.masking")
    torch.manual_seed(0)
    dec = _tiny_decoder(depth=0, patch_size=2).eval()
    pm = masking.random_masking(2, 12, 0.75, generator=torch.Generator().manual_seed(0))
    vis = torch.randn(2, pm.ids_keep.shape[1], 24)
    out = dec(vis, pm.ids_restore, (3, 4), torch.randn(2, 3, 24), None)
    pos = get_2d_sincos_pos_embed(32, (3, 4))
    for b in range(2):
        for k, l_idx in enumerate(pm.ids_keep[b].tolist()):
            expected = dec.pred(dec.norm(dec.decoder_embed(vis[b, k]) + pos[l_idx]))
            torch.testing.assert_close(out[b, l_idx], expected)
        for l_idx in torch.nonzero(pm.mask[b]).flatten().tolist():
            torch.testing.assert_close(out[b, l_idx], dec.pred(dec.norm(dec.mask_token[0, 0] + pos[l_idx])))


def test_sincos_pos_embed_values() -> None:
    D, grid = 8, (3, 2)
    pe = get_2d_sincos_pos_embed(D, grid)
    assert pe.shape == (6, D)
    i = 5  # row 2, col 1
    row, col = 2, 1
    omega = [1.0 / 10000 ** (k / 2) for k in range(2)]
    expected = [math.sin(row * o) for o in omega] + [math.cos(row * o) for o in omega]
    expected += [math.sin(col * o) for o in omega] + [math.cos(col * o) for o in omega]
    torch.testing.assert_close(pe[i], torch.tensor(expected))
    assert len({tuple(r.tolist()) for r in pe}) == 6
    with pytest.raises(ValueError):
        get_2d_sincos_pos_embed(6, grid)


def _tiny_decoder(D: int = 24, **kw: object) -> CSRDecoder:
    return CSRDecoder(D, **{"decoder_dim": 32, "depth": 2, "num_heads": 4, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("grid", [(20, 10), (16, 8), (10, 5)])
@pytest.mark.parametrize("anchor_grid", [(16, 8), (8, 4)])
def test_decoder_shapes(grid: tuple[int, int], anchor_grid: tuple[int, int]) -> None:
    torch.manual_seed(0)
    D, B = 24, 2
    dec = _tiny_decoder(D, anchor_dim=16)
    L = grid[0] * grid[1]
    ids_keep, ids_restore, _ = random_masking(B, L, 0.75)
    vis = torch.randn(B, ids_keep.shape[1], D)
    n_a = anchor_grid[0] * anchor_grid[1]
    for anchor in (torch.randn(B, n_a, 16), torch.randn(B, 1 + n_a, 16)):
        assert dec(vis, ids_restore, grid, anchor, anchor_grid).shape == (B, L, 16 * 16 * 3)
    # Unstructured context (e.g. the reference code's single image token).
    assert dec(vis, ids_restore, grid, torch.randn(B, 1, 16), None).shape == (B, L, 768)
    with pytest.raises(ValueError):
        dec(vis, ids_restore, grid, torch.randn(B, n_a + 2, 16), anchor_grid)


def test_decoder_default_config_shape() -> None:
    dec = CSRDecoder(192)
    _, ids_restore, _ = random_masking(1, 200, 0.75)
    out = dec(torch.randn(1, 50, 192), ids_restore, (20, 10), torch.randn(1, 129, 192), (16, 8))
    assert out.shape == (1, 200, 768)


def test_decoder_unshuffles_visible_tokens_to_their_grid_positions() -> None:
    torch.manual_seed(0)
    dec = _tiny_decoder(depth=0, patch_size=2).eval()
    grid = (3, 4)
    ids_keep, ids_restore, mask = random_masking(2, 12, 0.5)
    vis = torch.randn(2, 6, 24)
    out = dec(vis, ids_restore, grid, torch.randn(2, 3, 24), None)
    pos = get_2d_sincos_pos_embed(32, grid)
    for b in range(2):
        for k in range(6):
            l_idx = int(ids_keep[b, k])
            expected = dec.pred(dec.norm(dec.decoder_embed(vis[b, k]) + pos[l_idx]))
            torch.testing.assert_close(out[b, l_idx], expected)
        for l_idx in torch.nonzero(mask[b]).flatten().tolist():
            expected = dec.pred(dec.norm(dec.mask_token[0, 0] + pos[l_idx]))
            torch.testing.assert_close(out[b, l_idx], expected)


def test_decoder_uses_anchor_and_grad_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    dec = _tiny_decoder(anchor_dim=16, patch_size=4)
    B, grid, anchor_grid = 2, (4, 2), (2, 2)
    _, ids_restore, mask = random_masking(B, 8, 0.75)
    vis = torch.randn(B, 2, 24)
    anchor = torch.randn(B, 5, 16)
    out = dec(vis, ids_restore, grid, anchor, anchor_grid)
    out2 = dec(vis, ids_restore, grid, anchor + torch.randn_like(anchor), anchor_grid)
    assert not torch.allclose(out, out2)  # the anchor view matters (cross-attention)
    img = torch.randn(B, 3, 16, 8)
    csr_loss(out, img, mask, patch_size=4).backward()
    for name, prm in dec.named_parameters():
        assert prm.grad is not None and prm.grad.abs().sum() > 0, name


def test_csr_loss_decreases() -> None:
    torch.manual_seed(0)
    p, B = 4, 2
    view = torch.randn(B, 3, 16, 8)  # rescaled view, grid 4x2
    anchor_img = torch.randn(B, 3, 8, 8)  # anchor view, grid 2x2
    ids_keep, ids_restore, mask = random_masking(B, 8, 0.5)
    encoder = torch.nn.Linear(p * p * 3, 24)  # tiny "backbone" on pixels
    dec = _tiny_decoder(patch_size=p)
    opt = torch.optim.Adam([*encoder.parameters(), *dec.parameters()], lr=2e-3)
    vis_pix = torch.gather(patchify(view, p), 1, ids_keep.unsqueeze(-1).expand(-1, -1, p * p * 3))
    losses = []
    for _ in range(50):
        pred = dec(encoder(vis_pix), ids_restore, (4, 2), encoder(patchify(anchor_img, p)), (2, 2))
        loss = csr_loss(pred, view, mask, patch_size=p)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
