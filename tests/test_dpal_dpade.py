"""D-PaDe (DPAL's dynamic pattern decoder): router, expert mixing, shapes, routing loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import saip  # noqa: F401
from saip.objectives.dpade import DPaDe, routing_loss


@pytest.fixture(autouse=True)
def _one_thread():
    """Single-threaded: the shared CPU is oversubscribed and these small ops do not gain from threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def decoder() -> DPaDe:
    torch.manual_seed(0)
    return DPaDe(student_dim=16, teacher_dim=24, rank=4, num_heads=2)


def test_router_probabilities_sum_to_one(decoder: DPaDe) -> None:
    out = decoder(torch.randn(5, 7, 16))
    assert out.features.shape == (5, 7, 24) and out.router_probs.shape == (5, 3)
    torch.testing.assert_close(out.router_probs.sum(-1), torch.ones(5))
    assert (out.router_probs >= 0).all()
    torch.testing.assert_close(out.router_probs, out.router_logits.softmax(-1))


def test_output_is_the_router_weighted_mixture_of_the_generated_experts(decoder: DPaDe) -> None:
    tokens = torch.randn(3, 6, 16)
    out = decoder(tokens)
    x = decoder.token_norm(tokens + decoder.token_attn(tokens))
    gates = decoder.expert_gates(tokens)
    for b in range(3):
        W = torch.zeros(16, 24)
        for k in range(3):
            W_k = decoder.base[k] + decoder.down[k] @ torch.diag(gates[b, k]) @ decoder.up[k]
            W = W + out.router_probs[b, k] * W_k
        expected = decoder.out_norm(F.gelu(x[b] @ W))
        torch.testing.assert_close(out.features[b], expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out.weight_sq_norm[b], W.pow(2).sum(), atol=1e-4, rtol=1e-4)
    maps = decoder.expert_maps(gates)
    assert maps.shape == (3, 3, 16, 24)


def test_experts_depend_on_the_image(decoder: DPaDe) -> None:
    gates = decoder.expert_gates(torch.randn(2, 4, 16))
    assert not torch.allclose(gates[0], gates[1])


def test_routing_loss_is_cross_entropy_and_trains_the_router(decoder: DPaDe) -> None:
    logits = torch.randn(4, 3)
    assert routing_loss(logits, 2).item() == pytest.approx(
        float(-logits.log_softmax(-1)[:, 2].mean()), rel=1e-6
    )
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-2)
    tokens = torch.randn(4, 5, 16)
    for _ in range(20):
        loss = routing_loss(decoder(tokens).router_logits, 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (decoder(tokens).router_probs.argmax(-1) == 1).all()


def test_bad_shapes_and_options() -> None:
    with pytest.raises(ValueError, match="num_heads"):
        DPaDe(10, 8, num_heads=4)
    with pytest.raises(ValueError, match="expects"):
        DPaDe(8, 8, num_heads=2)(torch.randn(2, 3, 5))
