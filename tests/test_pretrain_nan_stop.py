"""The NaN/inf stop: nothing non-finite is stepped into the weights or written to a checkpoint.

Each test makes the run diverge a different way (a huge lr: finite loss, NaN gradients; NaN in the
gradients only; inf parameters) and checks the kept ``last.pt`` is finite, loadable and resumable,
and that the message names the step as the logs count it and says truthfully what was kept.
"""

from __future__ import annotations

import json

import pytest
import torch

from saip.pretrain import Trainer, TrainingDiverged
from saip.pretrain.checkpoint import load_checkpoint
from saip.pretrain.finite import count_non_finite, grad_norm
from tests.pretrain_helpers import tiny_config


def _logged_steps(trainer: Trainer) -> list[int]:
    path = trainer.run_dir / "logs" / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def _assert_finite_checkpoint(trainer: Trainer, step: int) -> None:
    state = load_checkpoint(trainer.ckpt_path)
    assert state["step"] == step
    for key in ("method", "optimizer"):
        bad, total = count_non_finite(state[key])
        assert total > 0 and bad == 0, key


def test_huge_lr_finite_loss_nan_gradient_keeps_a_finite_checkpoint(tmp_path):
    """The issue's reproduction: lr 1e6 gives a finite loss whose gradient norm is NaN."""
    cfg = tiny_config(tmp_path, "train.max_steps=8", "train.checkpoint_every=1", "train.base_lr=1e6")
    trainer = Trainer(cfg, progress=False)
    with pytest.raises(TrainingDiverged) as info:
        trainer.train()
    message = str(info.value)
    logged = _logged_steps(trainer)
    failed = logged[-1] + 1  # the step that diverged was never logged; the message names it
    assert message.startswith(f"step {failed}:")
    assert f"last good checkpoint (step {logged[-1]}" in message
    _assert_finite_checkpoint(trainer, logged[-1])
    resumed = Trainer(cfg, resume=True, progress=False)  # loadable: resume builds from it
    assert resumed.step == logged[-1]
    assert count_non_finite(resumed.method.state_dict())[0] == 0


def test_nan_in_gradients_only_stops_before_the_update(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=6", "train.checkpoint_every=2")
    trainer = Trainer(cfg, progress=False)
    weight = trainer.method.student.model.patch_embed.proj.weight
    calls = {"n": 0}

    def poison(grad: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return grad * float("nan") if calls["n"] == 3 else grad

    weight.register_hook(poison)
    with pytest.raises(TrainingDiverged, match=r"^step 3: gradient norm is nan \(the loss .* is finite\)"):
        trainer.train()
    assert torch.isfinite(weight).all()  # the NaN step was never applied
    _assert_finite_checkpoint(trainer, 2)


def test_divergence_before_the_first_checkpoint_says_nothing_was_kept(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=6", "train.checkpoint_every=100")
    trainer = Trainer(cfg, progress=False)
    original = trainer.method.forward

    def poisoned(batch, schedule):
        out = original(batch, schedule)
        if schedule.step == 1:
            out.loss = out.loss * float("inf")
        return out

    trainer.method.forward = poisoned
    with pytest.raises(TrainingDiverged) as info:
        trainer.train()
    assert str(info.value).startswith("step 2: loss is")
    assert "No checkpoint was written yet" in str(info.value)
    assert "last good checkpoint" not in str(info.value)
    assert not trainer.ckpt_path.exists()


def test_save_refuses_a_non_finite_state_and_keeps_the_old_file(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=4")
    trainer = Trainer(cfg, progress=False)
    trainer.train(stop_after=2)
    before = trainer.ckpt_path.read_bytes()
    with torch.no_grad():
        next(trainer.method.student.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match="1 of .* state tensors are non-finite"):
        trainer.save()
    assert trainer.ckpt_path.read_bytes() == before


def test_grad_norm_and_count_non_finite_against_direct_computation():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, 2))
    a.grad, b.grad = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([[0.0, 4.0], [0.0, 0.0]])
    assert float(grad_norm([a, b])) == pytest.approx(5.0)
    b.grad[0, 0] = float("nan")
    assert torch.isnan(grad_norm([a, b]))
    state = {"x": torch.ones(2), "y": [torch.tensor([float("inf")]), {"z": torch.zeros(1)}], "n": 3}
    assert count_non_finite(state) == (1, 3)
