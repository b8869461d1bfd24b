"""The training loop: output files, exact resume, NaN stop, schedules, EMA, optimizer groups."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from saip.backbones import create_backbone
from saip.experts import ema_update, make_ema_copy
from saip.pretrain import Trainer, TrainingDiverged, pretrain
from saip.pretrain.optim import parameter_groups
from saip.pretrain.schedules import cosine_lr, cosine_momentum, scaled_lr, teacher_temperature
from tests.pretrain_helpers import tiny_config


def _losses(run_dir):
    lines = (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]


def test_run_folder_contents(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=3")
    run = pretrain(cfg, progress=False)
    for name in (
        "config.yaml",
        "backbone.safetensors",
        "backbone.json",
        "checkpoints/last.pt",
        "logs/metrics.jsonl",
    ):
        assert (run / name).is_file(), name
    info = json.loads((run / "backbone.json").read_text())
    assert info["timm_name"] == "vit_tiny_patch16_224" and info["img_size"] == [64, 32]
    weights = load_file(str(run / "backbone.safetensors"))
    assert set(weights) == set(create_backbone("vit_tiny", img_size=(64, 32)).model.state_dict())
    record = json.loads((run / "logs" / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("loss/csm", "loss/csr", "loss/css", "lr", "momentum", "images_per_s", "csm/teacher_std"):
        assert key in record, key
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 3 and {"method", "optimizer", "scaler", "rng", "config"} <= set(ckpt)


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    full = pretrain(tiny_config(tmp_path / "a", "train.max_steps=6", "train.accum_steps=2"), progress=False)
    cfg = tiny_config(tmp_path / "b", "train.max_steps=6", "train.accum_steps=2")
    Trainer(cfg, progress=False).train(stop_after=3)
    resumed = Trainer(cfg, resume=True, progress=False).train()
    a, b = _losses(full), _losses(resumed)
    assert [s for s, _ in a] == [s for s, _ in b] == [1, 2, 3, 4, 5, 6]
    assert [loss for _, loss in a] == pytest.approx([loss for _, loss in b], rel=1e-5, abs=1e-6)
    wa, wb = load_file(str(full / "backbone.safetensors")), load_file(str(resumed / "backbone.safetensors"))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=2")
    pretrain(cfg, progress=False)
    with pytest.raises(ValueError, match="--resume"):
        pretrain(cfg, progress=False)
    pretrain(cfg, overwrite=True, progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, "train.max_steps=6")
    trainer = Trainer(cfg, progress=False)
    original = trainer.method.forward
    calls = {"n": 0}

    def poisoned(batch, schedule):
        out = original(batch, schedule)
        calls["n"] += 1
        if calls["n"] == 4:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(trainer.method, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="nan"):
        trainer.train()
    ckpt = torch.load(cfg.out + "/checkpoints/last.pt", weights_only=True)
    assert ckpt["step"] == 2  # written at step 2; step 4 never happened
    assert all(torch.isfinite(v).all() for v in ckpt["method"].values() if v.is_floating_point())


@pytest.mark.parametrize("weights", [("1", "0", "0"), ("0", "1", "0"), ("0", "0", "1")])
def test_each_objective_alone_runs_without_building_the_others(tmp_path, weights):
    csm, csr, css = weights
    cfg = tiny_config(
        tmp_path,
        "train.max_steps=1",
        f"objectives.csm_weight={csm}",
        f"objectives.csr_weight={csr}",
        f"objectives.css_weight={css}",
    )
    trainer = Trainer(cfg, progress=False)
    modules = dict(trainer.method.named_children())
    assert ("csm_head" in modules) == (csm == "1")
    assert ("csr_decoder" in modules) == (csr == "1")
    assert ("css_decoder" in modules) == (css == "1")
    trainer.train()


def test_schedules_at_chosen_steps():
    assert cosine_lr(0, 100, 1.0, 10) == 0.0
    assert cosine_lr(5, 100, 1.0, 10) == pytest.approx(0.5)
    assert cosine_lr(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert cosine_lr(55, 100, 1.0, 10, min_lr=0.0) == pytest.approx(0.5)
    assert cosine_lr(100, 100, 1.0, 10, min_lr=0.1) == pytest.approx(0.1)
    assert cosine_momentum(0, 100) == pytest.approx(0.996)
    assert cosine_momentum(50, 100) == pytest.approx(0.998)
    assert cosine_momentum(100, 100) == pytest.approx(1.0)
    assert teacher_temperature(0, 10, 0.04, 0.07) == pytest.approx(0.04)
    assert teacher_temperature(5, 10, 0.04, 0.07) == pytest.approx(0.055)
    assert teacher_temperature(20, 10, 0.04, 0.07) == pytest.approx(0.07)
    assert teacher_temperature(3, 0, 0.04, 0.04) == pytest.approx(0.04)
    assert scaled_lr(2.5e-4, 2048) == pytest.approx(2e-3)


def test_momentum_follows_global_steps_not_epochs(tmp_path):
    """The reference indexed the EMA schedule by the step within the epoch; ours uses the global step."""
    cfg = tiny_config(tmp_path, "train.epochs=3")
    trainer = Trainer(cfg, progress=False)
    per_epoch = trainer.steps_per_epoch
    assert trainer.total_steps == 3 * per_epoch
    late = trainer.schedule(trainer.total_steps - 1).momentum
    assert late > trainer.schedule(per_epoch - 1).momentum
    assert late == pytest.approx(cosine_momentum(trainer.total_steps - 1, trainer.total_steps))


def test_ema_update_matches_formula():
    torch.manual_seed(0)
    student = torch.nn.Linear(3, 2)
    expert = make_ema_copy(student)
    with torch.no_grad():
        student.weight.add_(1.0)
    before = expert.weight.clone()
    ema_update(expert, student, 0.9)
    assert torch.allclose(expert.weight, 0.9 * before + 0.1 * student.weight)
    assert not expert.weight.requires_grad


def test_no_weight_decay_on_norms_biases_and_position_embeddings():
    model = create_backbone("vit_tiny", img_size=(64, 32))
    groups = parameter_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {names[id(p)] for p in groups[1]["params"]}
    decay = {names[id(p)] for p in groups[0]["params"]}
    assert "model.pos_embed" in no_decay and "model.cls_token" in no_decay
    assert "model.blocks.0.norm1.weight" in no_decay and "model.blocks.0.attn.qkv.bias" in no_decay
    assert "model.blocks.0.attn.qkv.weight" in decay
    assert groups[1]["weight_decay"] == 0.0 and math.isclose(groups[0]["weight_decay"], 0.05)


def test_loss_decreases_on_a_fixed_batch(tmp_path):
    """All three objectives together learn a fixed tiny dataset (loss after 40 steps < start)."""
    cfg = tiny_config(
        tmp_path, "train.max_steps=40", "train.base_lr=0.01", "train.warmup_fraction=0.0", "train.log_every=5"
    )
    run = pretrain(cfg, progress=False)
    losses = [loss for _, loss in _losses(run)]
    assert losses[-1] < losses[0]


def test_probe_every_n_steps_logs_probe_scalars(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=3", "probe.enabled=true", "probe.every=2")
    trainer = Trainer(cfg, progress=False)
    trainer.train()
    records = [
        json.loads(line) for line in (trainer.run_dir / "logs" / "metrics.jsonl").read_text().splitlines()
    ]
    probed = [r for r in records if "probe/reid_mAP" in r]
    assert [r["step"] for r in probed] == [2]
    assert {"probe/attr_mA", "probe/margin_reid_mAP"} <= set(probed[0])
    assert trainer.method.student.training  # back in training mode after the probe
