"""``saip viz``: scale panels from a random-init backbone and training curves from a fake metrics.jsonl."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip  # noqa: F401
import tests.pretrain_helpers as helpers
from saip.backbones import create_backbone
from saip.cli import app
from saip.viz import alarm_steps, image_token_attention, input_size, panel_size_px, read_metrics

WIDE = {"COLUMNS": "300"}


def write_run(folder: Path, alias: str = "vit_tiny", img_size: tuple[int, int] = (64, 32)) -> Path:
    return helpers.write_run(folder, alias, img_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def write_metrics(run: Path, steps: int = 30) -> Path:
    (run / "logs").mkdir(parents=True, exist_ok=True)
    lines = []
    for s in range(steps):
        lines.append(
            json.dumps(
                {
                    "step": s * 10,
                    "epoch": s // 10,
                    "loss": 3 * math.exp(-s / 10) + 0.1,
                    "loss/csm": 2 * math.exp(-s / 10),
                    "loss/csr": 0.5,
                    "loss/css": 0.3,
                    "lr": 1e-3 * min(1, s / 5),
                    "momentum": 0.996,
                    "images_per_s": 100.0,
                    "csm/student_entropy": 0.9,
                    "csm/teacher_entropy": 0.99 if s > 25 else 0.5,
                    "csm/teacher_std": 0.2,
                }
            )
        )
    path = run / "logs" / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_viz_panels_have_expected_size(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    crop = tmp_path / "person.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 64, 3), dtype=np.uint8)).save(crop)
    scene = tmp_path / "scene.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (60, 100, 3), dtype=np.uint8)).save(scene)
    result = CliRunner().invoke(
        app,
        env=WIDE,
        args=[
            "viz",
            str(run),
            "-i",
            str(crop),
            "-i",
            str(scene),
            "--scales",
            "0.5,1",
            "--out",
            str(tmp_path / "v"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "v" / "person_scales.png") == panel_size_px(2, 64 / 32)
    h, w = input_size(Image.new("RGB", (100, 60)), (64, 32), 0.5)
    assert (h, w) == (32, 64)
    assert png_size(tmp_path / "v" / "scene_scales.png") == panel_size_px(2, h / w)


def test_viz_curves_png_and_alarms(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    metrics = write_metrics(run)
    assert alarm_steps(read_metrics(metrics)) == [260, 270, 280, 290]
    result = CliRunner().invoke(app, env=WIDE, args=["viz", str(run), "--curves-only"])
    assert result.exit_code == 0, result.output
    assert png_size(run / "viz" / "curves.png") == (1300, 700)


def test_viz_bad_inputs(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    runner = CliRunner()
    no_metrics = runner.invoke(app, env=WIDE, args=["viz", str(run), "--curves-only"])
    assert no_metrics.exit_code != 0 and "metrics.jsonl" in no_metrics.output
    (run / "logs").mkdir()
    (run / "logs" / "metrics.jsonl").write_text('{"step": 1}\n{oops\n')
    bad_json = runner.invoke(app, env=WIDE, args=["viz", str(run), "--curves-only"])
    assert bad_json.exit_code != 0 and "metrics.jsonl:2" in bad_json.output
    missing = runner.invoke(app, env=WIDE, args=["viz", str(run), "-i", str(tmp_path / "none.jpg")])
    assert missing.exit_code != 0 and "none.jpg" in missing.output
    scales = runner.invoke(app, env=WIDE, args=["viz", str(run), "--scales", "1,-2"])
    assert scales.exit_code != 0 and "--scales" in scales.output


@pytest.mark.parametrize("alias", ["vit_tiny", "starnet_s3"])
def test_attention_maps_are_normalised_and_input_dependent(alias: str) -> None:
    backbone = create_backbone(alias, img_size=(64, 32)).eval()
    images = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    maps = image_token_attention(backbone, images)
    assert maps.shape == (2, 4, 2)
    assert torch.allclose(maps.flatten(1).min(1).values, torch.zeros(2))
    assert torch.allclose(maps.flatten(1).max(1).values, torch.ones(2))
    assert not torch.allclose(maps[0], maps[1])
