"""Pooling several annotated datasets into one crop set (saip.sources.person_set, saip.sources.dedup):
the manifest rows, the duplicate rule and its counts, shards read back with saip.data.shard_source,
and ``saip data from-boxes`` end to end on small datasets written here."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.data.shard_source import ShardImageSource
from saip.sources.crops import CropFilter
from saip.sources.person_set import build_person_set, load_source

REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAIP_CACHE", str(tmp_path / "cache"))  # shard counts are cached there


def scene(path: Path, width: int = 200, height: int = 300, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x, y * 0.8, (x + y + seed * 37) * 0.4], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def coco_file(path: Path, images: list[str], annotations: list[tuple[int, int, list[float]]]) -> Path:
    data = {
        "images": [{"id": i + 1, "file_name": name} for i, name in enumerate(images)],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": bbox, "iscrowd": 0}
            for ann_id, image_id, bbox in annotations
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def two_overlapping_sets(root: Path) -> tuple[Path, Path]:
    """A COCO set and a CSV set sharing one image (same bytes, another name)."""
    scene(root / "coco" / "a.png")
    scene(root / "coco" / "b.png", seed=1)
    coco = coco_file(
        root / "coco" / "ann.json",
        ["a.png", "b.png"],
        [
            (1, 1, [10, 20, 50, 100]),
            (2, 1, [10, 20, 50, 100]),  # repeated annotation: duplicate_box
            (3, 1, [15, 20, 50, 100]),  # IoU 0.82 with id 1: a different crop
            (4, 1, [0, 0, 40, 30]),  # too small, and twice: rejected, never a duplicate
            (5, 1, [0, 0, 40, 30]),
            (6, 2, [100, 50, 40, 120]),
        ],
    )
    (root / "other").mkdir()
    shutil.copy(root / "coco" / "a.png", root / "other" / "copy_of_a.png")
    csv = root / "other" / "boxes.csv"
    csv.write_text(
        "image,x,y,w,h\ncopy_of_a.png,11,21,50,100\n"  # IoU 0.94 with COCO id 1: duplicate_image
        "copy_of_a.png,120,150,50,100\n"
    )
    return coco, csv


def read_manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dedup_counts_and_manifest_rows(tmp_path: Path) -> None:
    coco, csv = two_overlapping_sets(tmp_path)
    sources = [load_source(coco), load_source(csv)]
    report = build_person_set(sources, tmp_path / "out", CropFilter(), pad=0.1)
    assert report.duplicates == {"duplicate_box": 1, "duplicate_image": 1}
    assert report.rejected == {"too_small": 2}
    assert report.kept == 4
    rows = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert [(r["dataset"], r["instance_id"]) for r in rows] == [
        ("coco", "1"),
        ("coco", "3"),
        ("coco", "6"),
        ("csv", "1"),
    ]
    first = rows[0]
    assert first["crop"] == "coco/a/a_i1.jpg" and (tmp_path / "out" / first["crop"]).is_file()
    assert first["box"] == [10.0, 20.0, 50.0, 100.0] and first["crop_box"] == [5, 10, 65, 130]
    assert first["image"] == "a.png" and first["format"] == "coco" and first["annotations"] == str(coco)
    assert first["image_sha1"] == hashlib.sha1((tmp_path / "coco" / "a.png").read_bytes()).hexdigest()
    assert rows[3]["image_sha1"] == first["image_sha1"]  # the copy is the same image
    assert first["filters_passed"] == ["min_height", "aspect"] and first["visibility"] is None
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["duplicates"] == {"duplicate_box": 1, "duplicate_image": 1}
    assert [s["duplicates"] for s in summary["sources"]] == [{"duplicate_box": 1}, {"duplicate_image": 1}]
    assert summary["dedup"]["iou"] == 0.9 and summary["filter"]["pad"] == 0.1


def test_dedup_threshold_and_rejected_boxes_do_not_remove(tmp_path: Path) -> None:
    coco, csv = two_overlapping_sets(tmp_path)
    strict = build_person_set([load_source(coco), load_source(csv)], tmp_path / "o", dedup_iou=0.95)
    assert strict.duplicates == {"duplicate_box": 1}  # 0.94 < 0.95: the copy's box is kept
    loose = build_person_set([load_source(coco), load_source(csv)], tmp_path / "p", dedup_iou=0.8)
    assert loose.duplicates == {"duplicate_box": 2, "duplicate_image": 1}  # IoU 0.82 now counts


@pytest.mark.skipif(
    not (REAL / "coco" / "test_coco.json").is_file(), reason=f"real COCO fixture not found under {REAL}"
)
def test_real_coco_listed_twice_is_cropped_once(tmp_path: Path) -> None:
    annotations = REAL / "coco" / "test_coco.json"
    report = build_person_set([load_source(annotations), load_source(annotations)], tmp_path / "out")
    # 14 persons, 3 rejected by the filters (test_sources_crops): 11 crops, then 11 duplicates
    assert report.kept == 11 and report.duplicates == {"duplicate_image": 11}
    assert report.rejected == {"aspect": 2 + 2, "too_small": 1 + 1}
    rows = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert len(rows) == 11 and {r["dataset"] for r in rows} == {"coco"}
    assert len({r["image_sha1"] for r in rows}) == 4


def test_shards_hold_the_crops_and_their_manifest_rows(tmp_path: Path) -> None:
    coco, csv = two_overlapping_sets(tmp_path)
    out, shards = tmp_path / "out", tmp_path / "shards"
    report = build_person_set([load_source(coco), load_source(csv)], out, shards=shards, max_per_shard=3)
    assert [p.name for p in report.shards] == ["shard-000000.tar", "shard-000001.tar"]
    rows = read_manifest(out / "manifest.jsonl")
    source = ShardImageSource(shards)
    assert len(source) == len(rows) == 4
    for index, row in enumerate(rows):
        with Image.open(out / row["crop"]) as crop:
            assert source[index].tobytes() == crop.convert("RGB").tobytes()
    with tarfile.open(report.shards[0]) as tar:
        meta = json.load(io.BytesIO(tar.extractfile("coco/a/a_i1.json").read()))
    assert meta == rows[0] | {"path": rows[0]["crop"]}


def write_cihp(split: Path) -> None:
    scene(split / "Images" / "0001.jpg", seed=2)
    people = np.zeros((300, 200), np.uint8)
    people[20:140, 10:60] = 1  # box (10, 20, 50, 120)
    people[100:250, 120:180] = 2  # box (120, 100, 60, 150)
    people[0:10, 190:200] = 3  # 10 px tall: too small
    (split / "Human_ids").mkdir(parents=True)
    Image.fromarray(people).save(split / "Human_ids" / "0001.png")


def test_cli_pools_datasets_into_one_set_and_shards(tmp_path: Path) -> None:
    write_cihp(tmp_path / "CIHP" / "Training")
    mhp = tmp_path / "MHP" / "train"
    scene(mhp / "images" / "m1.jpg", seed=3)
    mask = np.zeros((300, 200, 3), np.uint8)
    mask[50:200, 40:100] = 7
    (mhp / "parsing_annos").mkdir(parents=True)
    Image.fromarray(mask).save(mhp / "parsing_annos" / "m1_01_01.png")
    humanart = tmp_path / "HumanArt"
    scene(humanart / "images" / "2D_virtual_human" / "cartoon" / "h1.png", seed=4)
    (humanart / "annotations").mkdir()
    (humanart / "annotations" / "validation_humanart.json").write_text(
        json.dumps(
            {
                "images": [
                    {"id": 1, "file_name": "images/2D_virtual_human/cartoon/h1.png", "category": "cartoon"}
                ],
                "categories": [{"id": 1, "name": "person"}],
                "annotations": [{"id": 9, "image_id": 1, "category_id": 1, "bbox": [20, 30, 60, 150]}],
            }
        )
    )
    out, shards = tmp_path / "out", tmp_path / "shards"
    args = ["data", "from-boxes", "--out", str(out), "--shards", str(shards), "--layout", "flat"]
    for path in (tmp_path / "CIHP" / "Training", mhp, humanart / "annotations" / "validation_humanart.json"):
        args += ["--annotations", str(path)]
    result = CliRunner().invoke(saip.cli.app, args)
    assert result.exit_code == 0, result.output
    assert "cihp (cihp): 3 person boxes" in result.output and "mhpv2 (mhp): 1 person boxes" in result.output
    assert "too_small        1" in result.output and "kept: 4 crops" in result.output
    rows = read_manifest(out / "manifest.jsonl")
    assert [(r["crop"], r["box"]) for r in rows] == [
        ("cihp/0001_i1.jpg", [10.0, 20.0, 50.0, 120.0]),
        ("cihp/0001_i2.jpg", [120.0, 100.0, 60.0, 150.0]),
        ("mhpv2/m1_i1.jpg", [40.0, 50.0, 60.0, 150.0]),
        ("humanart/images__2D_virtual_human__cartoon__h1_i9.jpg", [20.0, 30.0, 60.0, 150.0]),
    ]
    assert rows[3]["art_style"] == "cartoon" and "art_style" not in rows[0]
    assert (out / "cihp" / "manifest.csv").is_file()  # per-source audit of every instance
    assert len(ShardImageSource(shards)) == 4 and f"data.shards={shards}" in result.output


def test_cli_errors_name_the_file_or_option(tmp_path: Path) -> None:
    def run(*extra: str):
        return CliRunner().invoke(saip.cli.app, ["data", "from-boxes", "--out", str(tmp_path / "o"), *extra])

    missing = run("--annotations", str(tmp_path / "missing.json"))
    assert missing.exit_code == 2 and "missing.json does not exist" in missing.output
    (tmp_path / "bad.json").write_text("{oops")
    malformed = run("--annotations", str(tmp_path / "bad.json"))
    assert malformed.exit_code == 2 and "bad.json: not valid JSON" in malformed.output
    unknown = run("--annotations", str(tmp_path / "bad.json"), "--format", "bogus")
    assert unknown.exit_code == 2 and "unknown annotation format 'bogus'" in unknown.output
    counts = run("--annotations", str(tmp_path / "bad.json"), "--images", "a", "--images", "b")
    assert counts.exit_code == 2 and "--images" in counts.output
    for result in (missing, malformed, unknown):
        assert result.output.strip().count("\n") == 0, result.output
