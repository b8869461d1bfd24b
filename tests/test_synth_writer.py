"""The on-disk synthetic dataset: Market-1501, attributes CSV, COCO, LIP and CrowdHuman layouts."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from saip.synth.attributes import ATTRIBUTE_NAMES
from saip.synth.parts import PART_CLASSES
from saip.synth.writer import write_synthetic_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_synthetic_dataset(out, identities=6, images_per_id=6, seed=1, scenes=5, scene_size=(192, 256))
    return out


def _ids(folder: Path) -> list[tuple[int, int]]:
    pattern = re.compile(r"([-\d]+)_c(\d)")
    out = []
    for p in sorted(folder.glob("*.jpg")):
        m = pattern.search(p.name)
        assert m is not None, p.name
        out.append((int(m.group(1)), int(m.group(2))))
    return out


def test_meta(root: Path) -> None:
    meta = json.loads((root / "meta.json").read_text())
    assert {"seed", "identities", "images_per_id", "attributes", "part_classes", "version"} <= set(meta)
    assert meta["attributes"] == ATTRIBUTE_NAMES and meta["part_classes"] == PART_CLASSES
    assert meta["identities"] == 6 and meta["images_per_id"] == 6 and meta["seed"] == 1


def test_market_layout(root: Path) -> None:
    train = _ids(root / "reid" / "bounding_box_train")
    query = _ids(root / "reid" / "query")
    gallery = _ids(root / "reid" / "bounding_box_test")
    assert len(train) == 3 * 6 and len(query) + len(gallery) == 3 * 6
    train_ids = {p for p, _ in train}
    test_ids = {p for p, _ in query} | {p for p, _ in gallery}
    assert train_ids.isdisjoint(test_ids) and min(train_ids) >= 1
    assert {p for p, _ in query} == {p for p, _ in gallery}
    assert len(set(query)) == len(query)  # one query per (identity, camera)
    for pid, cam in query:  # each query has a gallery match from another camera
        assert any(p == pid and c != cam for p, c in gallery)
    with Image.open(next((root / "reid" / "query").glob("*.jpg"))) as im:
        assert im.size == (128, 256) and im.mode == "RGB"


def test_attributes_csv(root: Path) -> None:
    meta = json.loads((root / "meta.json").read_text())
    with open(root / "attributes" / "attributes.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image", "split", *meta["attributes"]]
    assert len(rows) == 1 + 36
    assert {r[1] for r in rows[1:]} == {"train", "val", "test"}
    for r in rows[1:]:
        assert (root / "attributes" / "images" / r[0]).is_file()
        assert set(r[2:]) <= {"0", "1"}


def test_parsing_layout(root: Path) -> None:
    for split in ("train", "val"):
        stems = (root / "parsing" / f"{split}_id.txt").read_text().split()
        assert stems
        for stem in stems[:5]:
            seg = np.asarray(Image.open(root / "parsing" / f"{split}_segmentations" / f"{stem}.png"))
            assert seg.dtype == np.uint8 and seg.shape == (256, 128) and seg.max() < len(PART_CLASSES)
            assert (root / "parsing" / f"{split}_images" / f"{stem}.jpg").is_file()


def _evaluate(gt_file: Path, iou_type: str) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        dets = [dict(a, score=1.0) for a in gt.dataset["annotations"]]
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def test_coco_keypoints_and_detection(root: Path) -> None:
    for split in ("train", "val"):
        kp_file = root / "pose" / "annotations" / f"person_keypoints_{split}.json"
        det_file = root / "detection" / "annotations" / f"instances_{split}.json"
        data = json.loads(kp_file.read_text())
        assert (
            data["categories"][0]["keypoints"][0] == "nose" and len(data["categories"][0]["skeleton"]) == 19
        )
        for img in data["images"]:
            assert (root / "pose" / "images" / split / img["file_name"]).is_file()
        for ann in data["annotations"]:
            assert len(ann["keypoints"]) == 51 and ann["category_id"] == 1 and ann["iscrowd"] == 0
        assert any(i["file_name"].startswith("scene_") for i in data["images"])
        assert _evaluate(kp_file, "keypoints") == pytest.approx(1.0)
        assert _evaluate(det_file, "bbox") == pytest.approx(1.0)
        assert _evaluate(det_file, "segm") == pytest.approx(1.0)


def test_crowdhuman_odgt(root: Path) -> None:
    det = json.loads((root / "detection" / "annotations" / "instances_train.json").read_text())
    lines = (root / "detection" / "annotation_train.odgt").read_text().splitlines()
    assert len(lines) == len(det["images"]) == 4
    for line in lines:
        rec = json.loads(line)
        assert (root / "detection" / "images" / "train" / f"{rec['ID']}.jpg").is_file()
        for box in rec["gtboxes"]:
            assert box["tag"] == "person" and box["extra"] == {"ignore": 0}
            assert all(len(box[k]) == 4 for k in ("fbox", "vbox", "hbox"))
