"""The shipped SLURM example is valid bash and calls saip with options that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import saip.cli

SBATCH = Path(__file__).parents[1] / "examples" / "slurm_pretrain.sbatch"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_sbatch_script_parses_as_bash():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)


def test_sbatch_script_uses_real_pretrain_options_and_recipe():
    text = SBATCH.read_text()
    assert "--resume auto" in text and "#SBATCH --signal=B:USR1@120" in text and "#SBATCH --requeue" in text
    options = set(re.findall(r"(--[a-z-]+)", text.split("-m saip.cli pretrain", 1)[1].split("&", 1)[0]))
    help_text = CliRunner().invoke(saip.cli.app, ["pretrain", "--help"]).output
    assert options and all(option in help_text for option in options), options
    assert "vit_tiny_paper" in CliRunner().invoke(saip.cli.app, ["pretrain", "--list-recipes"]).output
