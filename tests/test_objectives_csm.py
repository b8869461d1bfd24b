"""Tests of CSM (cross-scale matching): head, loss, centre, schedule, diagnostics, attention KL."""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path

import pytest
import torch

import saip  # noqa: F401  (torchvision shim before timm)
from saip.objectives import CSMHead, CSMLoss, attention_kl, csm_diagnostics


def _naive_csm(
    student: list[torch.Tensor], teacher: list[torch.Tensor], center: torch.Tensor, tt: float, ts: float
) -> float:
    """The CSM equation written with python loops over view pairs, batch items and classes."""
    total, n_pairs = 0.0, 0
    B, K = student[0].shape
    for iq, t in enumerate(teacher):
        for v, s in enumerate(student):
            if v == iq:
                continue
            pair = 0.0
            for b in range(B):
                tz = [(float(t[b, k]) - float(center[0, k])) / tt for k in range(K)]
                sz = [float(s[b, k]) / ts for k in range(K)]
                t_norm = sum(math.exp(z - max(tz)) for z in tz)
                s_lse = max(sz) + math.log(sum(math.exp(z - max(sz)) for z in sz))
                for k in range(K):
                    p = math.exp(tz[k] - max(tz)) / t_norm
                    pair += -p * (sz[k] - s_lse)
            total += pair / B
            n_pairs += 1
    return total / n_pairs


@pytest.mark.parametrize(
    ("n_teacher", "n_student", "B", "K", "tt", "ts"),
    [(2, 2, 3, 5, 0.04, 0.1), (2, 5, 2, 7, 0.07, 0.1), (1, 3, 4, 4, 0.05, 0.2), (2, 4, 1, 6, 0.1, 0.05)],
)
def test_csm_loss_matches_naive(n_teacher: int, n_student: int, B: int, K: int, tt: float, ts: float) -> None:
    g = torch.Generator().manual_seed(n_student * 10 + K)
    student = [torch.randn(B, K, generator=g, dtype=torch.float64) for _ in range(n_student)]
    teacher = [torch.randn(B, K, generator=g, dtype=torch.float64) for _ in range(n_teacher)]
    loss_fn = CSMLoss(K, student_temp=ts)
    loss_fn.center.copy_(torch.randn(1, K, generator=g) * 0.3)
    expected = _naive_csm(student, teacher, loss_fn.center, tt, ts)
    got = loss_fn(student, teacher, teacher_temp=tt, update_center=False)
    assert got.dim() == 0
    assert got.item() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    # the one-head-call path passes (V, B, K) tensors instead of lists of views: the same loss
    stacked = loss_fn(torch.stack(student), torch.stack(teacher), teacher_temp=tt, update_center=False)
    assert stacked.item() == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_stacked_views_give_the_list_loss_and_gradients() -> None:
    g = torch.Generator().manual_seed(3)
    student = torch.randn(5, 4, 32, generator=g, requires_grad=True)
    teacher = torch.randn(2, 4, 32, generator=g)
    loss_fn = CSMLoss(32)
    as_list = loss_fn(list(student.unbind(0)), list(teacher.unbind(0)), 0.04, update_center=False)
    (grad_list,) = torch.autograd.grad(as_list, student)
    as_tensor = loss_fn(student, teacher, 0.04, update_center=False)
    (grad_tensor,) = torch.autograd.grad(as_tensor, student)
    torch.testing.assert_close(as_tensor, as_list)
    torch.testing.assert_close(grad_tensor, grad_list)
    with pytest.raises(ValueError, match="student_outputs"):
        loss_fn(student[0], teacher, 0.04)


def test_csm_loss_raises_without_cross_view_pairs() -> None:
    with pytest.raises(ValueError):
        CSMLoss(4)([torch.randn(2, 4)], [torch.randn(2, 4)], teacher_temp=0.04)


def test_center_update_matches_hand_computation() -> None:
    g = torch.Generator().manual_seed(0)
    K, B = 6, 3
    loss_fn = CSMLoss(K, center_momentum=0.9)
    c0 = torch.randn(1, K, generator=g)
    loss_fn.center.copy_(c0)
    teacher = [torch.randn(B, K, generator=g) for _ in range(2)]
    student = [torch.randn(B, K, generator=g) for _ in range(4)]
    # The loss uses the centre *before* the update.
    expected_loss = _naive_csm(student, teacher, c0, 0.04, 0.1)
    loss = loss_fn(student, teacher, teacher_temp=0.04)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-4)
    mean = [sum(float(t[b, k]) for t in teacher for b in range(B)) / (2 * B) for k in range(K)]
    expected = [0.9 * float(c0[0, k]) + 0.1 * mean[k] for k in range(K)]
    assert loss_fn.center.shape == (1, K)
    torch.testing.assert_close(loss_fn.center[0], torch.tensor(expected), rtol=1e-5, atol=1e-6)
    # update_center=False leaves it alone; update_center() applies the same rule again.
    c1 = loss_fn.center.clone()
    loss_fn(student, teacher, teacher_temp=0.04, update_center=False)
    torch.testing.assert_close(loss_fn.center, c1)
    loss_fn.update_center(teacher)
    torch.testing.assert_close(loss_fn.center, 0.9 * c1 + 0.1 * torch.tensor([mean]), rtol=1e-5, atol=1e-6)


def test_loss_is_float32_under_autocast() -> None:
    student = [torch.randn(3, 8, dtype=torch.bfloat16) for _ in range(3)]
    teacher = [torch.randn(3, 8, dtype=torch.bfloat16) for _ in range(2)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = CSMLoss(8)(student, teacher, teacher_temp=0.04)
    assert loss.dtype == torch.float32


def test_gradient_flows_to_student_not_teacher() -> None:
    student = [torch.randn(3, 8, requires_grad=True) for _ in range(3)]
    teacher = [torch.randn(3, 8, requires_grad=True) for _ in range(2)]
    CSMLoss(8)(student, teacher, teacher_temp=0.04).backward()
    for s in student:
        assert s.grad is not None and s.grad.abs().sum() > 0
    for t in teacher:
        assert t.grad is None


def test_head_shapes_weight_norm_and_init() -> None:
    torch.manual_seed(0)
    head = CSMHead(12, out_dim=20, hidden_dim=32, bottleneck_dim=8)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 32), (32, 32), (32, 8)]
    assert head.last_layer.bias is None
    g = head.last_layer.parametrizations.weight.original0
    assert not g.requires_grad
    assert torch.all(g == 1)
    assert float(linears[1].weight.detach().std()) == pytest.approx(0.02, rel=0.15)
    opt = torch.optim.SGD([p for p in head.parameters() if p.requires_grad], lr=1.0)
    for _ in range(3):
        opt.zero_grad()
        head(torch.randn(5, 12)).pow(2).sum().backward()
        opt.step()
    assert torch.all(g == 1)
    w = head.last_layer.weight  # effective weight, rows have unit norm
    torch.testing.assert_close(w.norm(dim=1), torch.ones(20))
    out = head(torch.randn(4, 12))
    assert out.shape == (4, 20) and out.abs().max() <= 1 + 1e-5  # cosine similarities
    assert CSMHead(
        12, 20, 32, 8, norm_last_layer=False
    ).last_layer.parametrizations.weight.original0.requires_grad
    assert len([m for m in CSMHead(12, 20, 32, 8, nlayers=1).mlp if isinstance(m, torch.nn.Linear)]) == 1


def test_head_cancel_last_layer_gradients() -> None:
    head = CSMHead(6, out_dim=10, hidden_dim=16, bottleneck_dim=4)
    head(torch.randn(3, 6)).sum().backward()
    head.cancel_last_layer_gradients()
    assert all(p.grad is None for p in head.last_layer.parameters())
    assert all(p.grad is not None for p in head.mlp.parameters())


def test_diagnostics_uniform_and_one_hot() -> None:
    K = 16
    uniform = [torch.zeros(4, K) for _ in range(3)]
    d = csm_diagnostics(uniform, uniform[:2], teacher_temp=0.04)
    assert d["student_entropy"].item() == pytest.approx(1.0, abs=1e-6)
    assert d["teacher_entropy"].item() == pytest.approx(1.0, abs=1e-6)
    assert d["teacher_std"].item() == pytest.approx(0.0, abs=1e-7)
    one_hot = [torch.nn.functional.one_hot(torch.arange(4) % K, K).float() * 100 for _ in range(3)]
    d = csm_diagnostics(one_hot, one_hot[:2], teacher_temp=0.04)
    assert d["student_entropy"].item() < 1e-3
    assert d["teacher_entropy"].item() < 1e-3
    assert d["teacher_std"].item() > 0
    loss_fn = CSMLoss(K)
    d = loss_fn.diagnostics(uniform, uniform[:2], teacher_temp=0.04)
    assert set(d) == {"student_entropy", "teacher_entropy", "teacher_std"}


def test_csm_loss_decreases() -> None:
    torch.manual_seed(0)
    B, n_views, K = 8, 4, 32
    x = torch.randn(n_views, B, 16)
    teacher = [0.5 * torch.randn(B, K) for _ in range(2)]
    encoder = torch.nn.Linear(16, 8)
    head = CSMHead(8, out_dim=K, hidden_dim=32, bottleneck_dim=16)
    loss_fn = CSMLoss(K)
    params = [p for p in [*encoder.parameters(), *head.parameters()] if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(50):
        student = [head(encoder(x[v])) for v in range(n_views)]
        loss = loss_fn(student, teacher, teacher_temp=0.04)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def _ddp_center_worker(rank: int, world_size: int, init_file: str) -> None:
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: never depend on the host's name resolution
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=120),
    )
    try:
        K, B = 5, 3
        teacher_all = [
            torch.arange(world_size * B * K, dtype=torch.float32).reshape(world_size * B, K) * (i + 1)
            for i in range(2)
        ]
        mine = [t[rank * B : (rank + 1) * B] for t in teacher_all]
        loss_fn = CSMLoss(K, center_momentum=0.9)
        loss_fn.update_center(mine)
        expected = 0.1 * torch.cat(teacher_all).mean(0, keepdim=True)
        torch.testing.assert_close(loss_fn.center, expected)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.ddp
def test_center_update_is_all_reduced(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(_ddp_center_worker, args=(2, str(tmp_path / "init")), nprocs=2, join=True)


# ---------------------------------------------------------------- attention KL


def _naive_attention_kl(s: torch.Tensor, t: torch.Tensor, eps: float = 1e-10) -> float:
    s, t = s.detach(), t.detach()
    B, H, N, _ = s.shape
    total = 0.0
    for b in range(B):
        for h in range(H):
            for n in range(N):
                total += sum(
                    float(t[b, h, n, m])
                    * (math.log(float(t[b, h, n, m]) + eps) - math.log(float(s[b, h, n, m]) + eps))
                    for m in range(N)
                )
    return total / (B * H * N)


def test_attention_kl_matches_naive_and_zero_when_equal() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 5, 5, generator=g).softmax(-1)
    t = torch.randn(2, 3, 5, 5, generator=g).softmax(-1)
    assert attention_kl(s, t).item() == pytest.approx(_naive_attention_kl(s, t), rel=1e-5)
    assert attention_kl(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert attention_kl(s, t).item() > 0


def test_attention_kl_head_mismatch_averages_heads_and_grads_student_only() -> None:
    g = torch.Generator().manual_seed(2)
    s_logits = torch.randn(2, 3, 4, 4, generator=g, requires_grad=True)
    t = torch.randn(2, 6, 4, 4, generator=g).softmax(-1).requires_grad_()
    s = s_logits.softmax(-1)
    expected = _naive_attention_kl(s.mean(1, keepdim=True), t.mean(1, keepdim=True))
    loss = attention_kl(s, t)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert s_logits.grad is not None and s_logits.grad.abs().sum() > 0
    assert t.grad is None
