"""``saip data synth`` / ``saip data preview`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from saip.cli import app


def test_synth_writes_dataset(tmp_path: Path) -> None:
    out = tmp_path / "data"
    args = ["data", "synth", "--out", str(out), "--identities", "4", "--images-per-id", "3", "--seed", "2",
            "--scenes", "2", "--scene-size", "128x160"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 2 and meta["identities"] == 4
    assert len(list((out / "reid" / "bounding_box_train").glob("*.jpg"))) == 6
    assert (out / "attributes" / "attributes.csv").is_file()
    for rel in ("pose/annotations/person_keypoints_train.json", "pose/annotations/person_keypoints_val.json",
                "detection/annotations/instances_train.json", "detection/annotation_val.odgt",
                "parsing/train_id.txt", "parsing/val_id.txt"):  # fmt: skip
        assert (out / rel).is_file(), rel


def test_synth_task_subset(tmp_path: Path) -> None:
    out = tmp_path / "reid_only"
    args = [
        "data",
        "synth",
        "--out",
        str(out),
        "--identities",
        "2",
        "--images-per-id",
        "2",
        "--tasks",
        "reid",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "reid" / "query").is_dir() and not (out / "detection").exists()


def test_bad_options_name_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path), "--size", "256x"])
    assert result.exit_code != 0 and "--size" in result.output
    result = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path), "--tasks", "reid,foo"])
    assert result.exit_code != 0 and "--tasks" in result.output


def test_preview(tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    result = CliRunner().invoke(
        app, ["data", "preview", "--out", str(png), "--identities", "2", "--views", "2"]
    )
    assert result.exit_code == 0, result.output
    with Image.open(png) as im:
        assert im.width == 256 and im.height > 512
