"""Filtering and cropping person boxes, and ``saip data from-boxes`` end to end (saip.sources.crops)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.sources.boxes import PersonBox
from saip.sources.crops import CropFilter, crop_instances, crop_relpath, padded_crop_box

REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)


def box(w: float, h: float, **kwargs: object) -> PersonBox:
    return PersonBox(image="a.jpg", instance_id="0", box=(0.0, 0.0, w, h), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("person", "crop_filter", "reason"),
    [
        (box(40, 100), CropFilter(), None),
        (box(40, 50), CropFilter(), "too_small"),
        (box(10, 100), CropFilter(), "aspect"),
        (box(120, 100), CropFilter(), "aspect"),
        (box(0, 100), CropFilter(), "empty_box"),
        (box(40, 100, visibility=0.3), CropFilter(min_visibility=0.5), "occluded"),
        (box(40, 100), CropFilter(min_visibility=0.5), "no_visibility"),
        (box(40, 100, num_keypoints=3), CropFilter(min_keypoints=5), "few_keypoints"),
        (box(40, 100, score=0.2), CropFilter(min_score=0.5), "low_score"),
        (
            box(40, 100, visibility=0.9, num_keypoints=9, score=0.8),
            CropFilter(0, (0.2, 1), 0.5, 5, 0.5),
            None,
        ),
    ],
)
def test_filter_reasons(person: PersonBox, crop_filter: CropFilter, reason: str | None) -> None:
    assert crop_filter.check(person)[0] == reason


def test_filter_lists_passed_checks_and_validates() -> None:
    assert CropFilter(min_visibility=0.5).check(box(40, 100, visibility=0.9)) == (
        None,
        ["min_height", "aspect", "visibility"],
    )
    with pytest.raises(ValueError, match="aspect_range"):
        CropFilter(aspect_range=(1.0, 0.5))


def test_padded_crop_box_pads_and_clips() -> None:
    assert padded_crop_box((10, 20, 50, 100), 0.1, 200, 300) == (5, 10, 65, 130)
    assert padded_crop_box((-20, 250, 50, 100), 0.1, 200, 300) == (0, 240, 35, 300)
    assert padded_crop_box((500, 500, 10, 10), 0.0, 200, 300) is None


def test_crop_names_encode_source_and_instance() -> None:
    assert (
        crop_relpath("train/cam1/0001.jpg", "7", "per-image") == "train__cam1__0001/train__cam1__0001_i7.jpg"
    )
    assert crop_relpath("x.png", "3", "flat") == "x_i3.jpg"
    with pytest.raises(ValueError, match="layout"):
        crop_relpath("x.png", "3", "nested")


def scene(path: Path, width: int = 200, height: int = 300) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    # a smooth, position-coding pattern: JPEG keeps it almost exactly, a shifted crop would not match
    pixels = np.stack([x, y * 0.8, (x + y) * 0.4], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def test_crop_instances_writes_crops_manifest_and_skips_bad_images(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    pixels = scene(images / "good.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    boxes = [
        PersonBox("good.png", "1", (10, 20, 50, 100)),
        PersonBox("good.png", "2", (0, 0, 30, 20)),  # too small
        PersonBox("broken.png", "1", (10, 20, 50, 100)),
        PersonBox("missing.png", "1", (10, 20, 50, 100)),
    ]
    out = tmp_path / "crops"
    report = crop_instances(boxes, images, out, pad=0.1, quality=100)
    assert report.kept == 1 and report.images_read == 1
    assert report.rejected == {"too_small": 1, "corrupt_image": 1, "missing_image": 1}
    assert set(report.bad_images) == {"broken.png", "missing.png"}
    assert "broken.png" in caplog.text and "missing.png" in caplog.text
    crop = np.asarray(Image.open(out / "good" / "good_i1.jpg"))
    assert crop.shape == (120, 60, 3)
    assert np.abs(crop.astype(int) - pixels[10:130, 5:65].astype(int)).mean() < 2
    with open(report.manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["kept", "too_small", "corrupt_image", "missing_image"]
    assert rows[0]["crop"] == "good/good_i1.jpg" and rows[0]["filters_passed"] == "min_height;aspect"
    assert (rows[0]["crop_x1"], rows[0]["crop_y1"], rows[0]["crop_x2"], rows[0]["crop_y2"]) == (
        "5",
        "10",
        "65",
        "130",
    )


def test_cli_from_boxes_csv_flat(tmp_path: Path) -> None:
    scene(tmp_path / "frame.png")
    (tmp_path / "boxes.csv").write_text(
        "image,x,y,w,h,score\nframe.png,10,20,50,100,0.9\nframe.png,100,20,50,100,0.2\n"
    )
    out = tmp_path / "out"
    args = ["data", "from-boxes", "--annotations", str(tmp_path / "boxes.csv"), "--out", str(out)]
    result = CliRunner().invoke(saip.cli.app, [*args, "--layout", "flat", "--min-score", "0.5"])
    assert result.exit_code == 0, result.output
    assert "kept: 1 crops" in result.output and "low_score" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_i0.jpg",
        "manifest.csv",
        "manifest.jsonl",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kept"] == 1 and summary["rejected"] == {"low_score": 1}


def test_cli_from_boxes_rejects_unsupported_filter(tmp_path: Path) -> None:
    (tmp_path / "boxes.csv").write_text("frame.png,10,20,50,100\n")
    args = ["data", "from-boxes", "--annotations", str(tmp_path / "boxes.csv"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(saip.cli.app, [*args, "--max-occlusion", "0.5"])
    assert result.exit_code == 2
    assert "--min-visibility/--max-occlusion" in result.output and "boxes.csv" in result.output
    result = CliRunner().invoke(saip.cli.app, [*args, "--aspect-range", "1,0.5"])
    assert result.exit_code == 2 and "--aspect-range" in result.output


def test_cli_from_boxes_odgt_default_images_folder(tmp_path: Path) -> None:
    (tmp_path / "Images").mkdir()
    scene(tmp_path / "Images" / "273271,c9db.jpg")
    record = {
        "ID": "273271,c9db",
        "gtboxes": [
            {"tag": "person", "fbox": [10, 20, 50, 100], "vbox": [10, 20, 50, 90], "extra": {"box_id": 0}},
            {"tag": "person", "fbox": [100, 20, 50, 100], "vbox": [100, 20, 50, 30], "extra": {"box_id": 1}},
            {"tag": "mask", "fbox": [0, 0, 50, 100], "extra": {"box_id": 2}},
        ],
    }
    (tmp_path / "annotation_val.odgt").write_text(json.dumps(record) + "\n")
    out = tmp_path / "out"
    args = ["data", "from-boxes", "--annotations", str(tmp_path / "annotation_val.odgt"), "--out", str(out)]
    result = CliRunner().invoke(saip.cli.app, [*args, "--max-occlusion", "0.5"])
    assert result.exit_code == 0, result.output
    assert "mask" in result.output and "occluded" in result.output and "kept: 1 crops" in result.output
    assert (out / "273271_c9db" / "273271_c9db_i0.jpg").is_file()


@pytest.mark.skipif(
    not (REAL / "coco" / "test_coco.json").is_file(), reason=f"real COCO fixture not found under {REAL}"
)
def test_cli_from_boxes_real_coco(tmp_path: Path) -> None:
    annotations = REAL / "coco" / "test_coco.json"
    out = tmp_path / "coco_crops"
    result = CliRunner().invoke(
        saip.cli.app, ["data", "from-boxes", "--annotations", str(annotations), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    # 14 persons: 1 shorter than 64 px, 2 narrower than w/h 0.2 (persons cut by the image border).
    assert summary["kept"] == 11 and summary["rejected"] == {"aspect": 1 + 1, "too_small": 1}
    crops = sorted(out.glob("*/*.jpg"))
    assert len(crops) == 11 and len({c.parent.name for c in crops}) == 4
    for crop in crops:
        with Image.open(crop) as image:
            assert image.height >= 64
    stricter = CliRunner().invoke(
        saip.cli.app,
        [
            "data",
            "from-boxes",
            "--annotations",
            str(annotations),
            "--out",
            str(tmp_path / "k"),
            "--min-keypoints",
            "15",
        ],
    )
    assert (
        stricter.exit_code == 0
        and "kept: 8 crops" in stricter.output
        and "few_keypoints    3" in stricter.output
    )
