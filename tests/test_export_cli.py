"""``saip export`` command line: the three formats end to end, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

import saip  # noqa: F401  (CPU import shim before timm)
import tests.pretrain_helpers as helpers
from saip.cli import app

SIZE = (64, 32)
WIDE = {"COLUMNS": "300", "TERMINAL_WIDTH": "300"}


def write_run(folder: Path, alias: str = "vit_tiny", img_size: tuple[int, int] = (64, 32)) -> Path:
    return helpers.write_run(folder, alias, img_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_cli_export_timm_prints_load_commands(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", "vit_tiny")
    result = CliRunner().invoke(
        app, env=WIDE, args=["export", str(run), "--format", "timm", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "pretrained_cfg_overlay=dict(file=" in result.output and "checkpoint_path=" in result.output
    assert result.output.count(" OK") == 3
    assert (tmp_path / "o" / "model.safetensors").is_file() and (tmp_path / "o" / "config.json").is_file()


def test_cli_export_bad_inputs_name_the_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, env=WIDE, args=["export", str(tmp_path / "nope"), "--format", "timm"])
    assert missing.exit_code != 0 and "nope" in missing.output
    weights = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(weights))
    no_arch = runner.invoke(app, env=WIDE, args=["export", str(weights), "--format", "timm"])
    assert no_arch.exit_code != 0 and "--arch" in no_arch.output
    bad_size = runner.invoke(app, env=WIDE, args=["export", "random:vit_tiny", "--img-size", "250x128"])
    assert bad_size.exit_code != 0 and "multiple of 16" in bad_size.output


def test_cli_export_torchscript_of_weights_file(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", "vit_tiny")
    args = [
        "export",
        str(run / "backbone.safetensors"),
        "--arch",
        "vit_tiny",
        "--format",
        "torchscript",
        "--img-size",
        "64x32",
        "--out",
        str(tmp_path / "ts"),
    ]
    result = CliRunner().invoke(app, env=WIDE, args=args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ts" / "vit_tiny_64x32.pt").is_file() and "torchscript: max abs diff" in result.output
