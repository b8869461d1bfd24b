"""Readers of person boxes: COCO JSON, CrowdHuman odgt, CSV (saip.sources.boxes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import saip  # noqa: F401  (import shim first)
from saip.sources.boxes import detect_format, read_boxes, read_coco_boxes, read_csv_boxes, read_odgt_boxes

REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)


def write_coco(path: Path) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 300}],
        "categories": [
            {"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]},
            {"id": 2, "name": "dog"},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 20, 50, 120],
                "iscrowd": 0,
                "num_keypoints": 17,
            },
            {
                "id": 11,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 5, 5],
                "iscrowd": 1,
                "num_keypoints": 0,
            },
            {"id": 12, "image_id": 1, "category_id": 2, "bbox": [0, 0, 30, 30], "iscrowd": 0},
            {
                "id": 13,
                "image_id": 1,
                "category_id": 1,
                "bbox": [100, 50, 40, 100],
                "iscrowd": 0,
                "num_keypoints": 4,
            },
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_coco_skips_crowd_and_other_categories(tmp_path: Path) -> None:
    source = read_coco_boxes(write_coco(tmp_path / "ann.json"))
    assert [b.instance_id for b in source.boxes] == ["10", "13"]
    assert source.skipped == {"iscrowd": 1, "other_category": 1}
    first, second = source.boxes
    assert first.image == "a.jpg" and first.box == (10.0, 20.0, 50.0, 120.0)
    assert first.num_keypoints == 17 and first.visibility == pytest.approx(1.0)
    assert second.num_keypoints == 4 and second.visibility == pytest.approx(4 / 17)


def test_coco_rejects_unknown_image_id(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"images": [], "annotations": [{"id": 1, "image_id": 5, "bbox": [0, 0, 1, 1]}]})
    )
    with pytest.raises(ValueError, match=r"bad\.json: annotations\[0\]: image_id 5"):
        read_coco_boxes(path)


def test_odgt_visibility_mask_and_ignore(tmp_path: Path) -> None:
    records = [
        {
            "ID": "273271,c9db000d5146c15",
            "gtboxes": [
                {"tag": "person", "fbox": [0, 0, 100, 200], "vbox": [0, 0, 100, 100], "extra": {"box_id": 0}},
                {"tag": "mask", "fbox": [5, 5, 10, 10], "vbox": [5, 5, 10, 10], "extra": {"box_id": 1}},
                {
                    "tag": "person",
                    "fbox": [50, 0, 40, 90],
                    "vbox": [50, 0, 40, 90],
                    "extra": {"box_id": 2, "ignore": 1},
                },
                {"tag": "person", "fbox": [10, 10, 40, 80], "vbox": [0, 0, 100, 100], "extra": {"box_id": 3}},
            ],
        },
        {"ID": "second", "gtboxes": []},
    ]
    path = tmp_path / "annotation_train.odgt"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    source = read_odgt_boxes(path)
    assert source.skipped == {"mask": 1, "ignore": 1}
    assert [(b.image, b.instance_id) for b in source.boxes] == [
        ("273271,c9db000d5146c15.jpg", "0"),
        ("273271,c9db000d5146c15.jpg", "3"),
    ]
    assert source.boxes[0].visibility == pytest.approx(0.5)
    assert source.boxes[1].visibility == pytest.approx(1.0)  # vbox larger than fbox is clipped to it


def test_odgt_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.odgt"
    path.write_text('{"ID": "a", "gtboxes": []}\nnot json\n')
    with pytest.raises(ValueError, match=r"x\.odgt:2"):
        read_odgt_boxes(path)


def test_csv_with_and_without_header(tmp_path: Path) -> None:
    with_header = tmp_path / "a.csv"
    with_header.write_text(
        "image,x,y,w,h,score\nimg1.jpg,1,2,30,60,0.9\nimg1.jpg,5,5,20,70,0.4\nimg2.jpg,0,0,10,10,1\n"
    )
    source = read_csv_boxes(with_header)
    assert [(b.image, b.instance_id, b.score) for b in source.boxes] == [
        ("img1.jpg", "0", 0.9),
        ("img1.jpg", "1", 0.4),
        ("img2.jpg", "0", 1.0),
    ]
    no_header = tmp_path / "b.csv"
    no_header.write_text("img1.jpg,1,2,30,60\n")
    (box,) = read_csv_boxes(no_header).boxes
    assert box.box == (1.0, 2.0, 30.0, 60.0) and box.score is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("image,x,y,w,h\nimg.jpg,1,2,3\n", r"c\.csv:2: expected"),
        ("img.jpg,1,2,3,4\nimg.jpg,a,2,3,4\n", r"c\.csv:2: x,y,w,h"),
        ("pic,x,y,w,h\n", r"c\.csv:1: header"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_csv_boxes(path)


def test_format_from_suffix_and_errors(tmp_path: Path) -> None:
    assert (
        detect_format("x.json") == "coco"
        and detect_format("x.odgt") == "odgt"
        and detect_format("X.CSV") == "csv"
    )
    with pytest.raises(ValueError, match="--format"):
        detect_format(tmp_path / "boxes.txt")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        read_boxes(tmp_path / "nope.json")


@pytest.mark.skipif(
    not (REAL / "coco" / "test_coco.json").is_file(), reason=f"real COCO fixture not found under {REAL}"
)
def test_real_coco_fixture() -> None:
    path = REAL / "coco" / "test_coco.json"
    source = read_boxes(path)
    assert source.format == "coco" and len(source.boxes) == 14
    assert {b.image for b in source.boxes} == {p.name for p in (REAL / "coco").glob("0*.jpg")}
    assert all(b.visibility is not None and 0 <= b.visibility <= 1 for b in source.boxes)
