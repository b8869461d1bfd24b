"""``saip pretrain`` end to end in a temporary folder, and ``--help`` on every command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from saip.cli import app
from tests.pretrain_helpers import TINY_OVERRIDES, write_images

runner = CliRunner()


def pretrain_two_tiny_steps(images, out, *options: str):
    """``saip pretrain`` on ``images`` with the tiny test model, 2 steps, no probe."""
    args = ["pretrain", *options, "--data", str(images), "--out", str(out), "--no-probe"]
    return runner.invoke(app, [*args, *TINY_OVERRIDES, "train.max_steps=2"])


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("pretrain", "data", "eval"):
        assert command in result.output


def _all_commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    stack = [(click_group, list(prefix))]
    while stack:
        command, path = stack.pop()
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            stack.append((sub, [*path, name]))


@pytest.mark.parametrize("path", list(_all_commands(app)), ids=lambda p: " ".join(p) or "saip")
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output


def test_pretrain_cli_writes_run_folder(tmp_path):
    images = write_images(tmp_path / "images")
    out = tmp_path / "run"
    result = pretrain_two_tiny_steps(images, out)
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "backbone.safetensors", "backbone.json", "checkpoints/last.pt"):
        assert (out / name).is_file(), name
    assert len((out / "logs" / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((out / "backbone.json").read_text())["alias"] == "vit_tiny"
    again = runner.invoke(app, ["pretrain", "--data", str(images), "--out", str(out), *TINY_OVERRIDES])
    assert again.exit_code == 2 and "--resume" in again.output


def test_pretrain_cli_bad_option_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["pretrain", "--out", str(tmp_path / "r"), "train.batch_size=zero"])
    assert result.exit_code == 2
    assert "train.batch_size" in result.output


def test_pretrain_cli_missing_data_folder(tmp_path):
    result = runner.invoke(
        app, ["pretrain", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0
    assert "missing" in (result.output + str(result.exception))


def test_pretrain_budget_preset_selects_its_recipe(tmp_path):
    """--budget runs the preset's recipe (here cut to 2 tiny steps): the run's config says so."""
    images = write_images(tmp_path / "imgs", 8)
    out = tmp_path / "run"
    result = pretrain_two_tiny_steps(images, out, "--budget", "cpu-1h")
    assert result.exit_code == 0, result.output
    config = (out / "config.yaml").read_text()
    assert "out: " + str(out) in config
    assert "method: saip_star" in config and "every: 800" in config  # cpu_1h's probe schedule


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "week"], "demo, cpu-ssl, cpu-1h, gpu-short"),
        (["--budget", "demo", "--config", "dino"], "not both"),
    ],
)
def test_pretrain_budget_errors(tmp_path, args, message):
    result = runner.invoke(app, ["pretrain", "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_budget_presets_are_shipped_recipes():
    from saip.cli.pretrain_cmd import BUDGETS
    from saip.config import list_recipes, load_config

    assert set(BUDGETS.values()) <= set(list_recipes())
    demo, hour, gpu = (load_config(BUDGETS[b], []) for b in ("demo", "cpu-1h", "gpu-short"))
    assert hour.train.max_steps >= 8 * demo.train.max_steps and hour.model == demo.model
    assert gpu.objectives.csr_weight > 0 and gpu.objectives.css_weight > 0 and gpu.expert.kind == "frozen"
