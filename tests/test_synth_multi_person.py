"""Synthetic CIHP / Fashionpedia scenes: label maps, garments, the written layouts and their loaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from saip.evaluate.datasets.cihp import CihpDataset, list_cihp_split, resolve_cihp_root
from saip.evaluate.datasets.fashionpedia import load_fashionpedia_split
from saip.evaluate.metrics.attribute_detection import fashionpedia_ap
from saip.evaluate.metrics.instance_parsing import ImagePersons, parsing_ap_summary, split_persons
from saip.synth import parts as P
from saip.synth.formats.cihp import CIHP_CLASSES, cihp_maps
from saip.synth.formats.fashionpedia import ATTRIBUTES, BOTTOM_CATEGORY, TOP_CATEGORY, person_garments
from saip.synth.identity import make_identity
from saip.synth.scene import render_scene
from saip.synth.scene_styles import FASHIONPEDIA_STYLE, crowd_style, render_styled_scene
from saip.synth.writer import write_synthetic_dataset

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def test_cihp_maps_by_hand() -> None:
    parts = np.array([[P.HAT, P.FACE, P.BAG, 0], [P.PANTS, P.PANTS, P.FACE, P.FACE]], dtype=np.uint8)
    instances = np.array([[2, 2, 2, 0], [2, 2, 5, 5]], dtype=np.uint8)
    category, human, part_instance = cihp_maps(parts, instances)
    np.testing.assert_array_equal(category, [[P.HAT, P.FACE, 0, 0], [P.PANTS, P.PANTS, P.FACE, P.FACE]])
    np.testing.assert_array_equal(human, [[1, 1, 0, 0], [1, 1, 2, 2]])  # bag pixel is background
    # Part instances numbered in (person, class id) order: hat 1, pants 2, face 3; person 2's face 4.
    np.testing.assert_array_equal(part_instance, [[1, 3, 0, 0], [2, 2, 4, 4]])
    assert len(CIHP_CLASSES) == 20 and CIHP_CLASSES[10] == "Torso-skin"


def test_person_garments_follow_the_identity() -> None:
    identity = make_identity(0, 7)
    parts = np.zeros((8, 8), dtype=np.uint8)
    parts[0:3] = P.UPPER_CLOTHES
    parts[3:6] = P.PANTS
    parts[7, 0:2], parts[7, 5:7] = P.LEFT_SHOE, P.RIGHT_SHOE
    person = np.ones((8, 8), dtype=bool)
    person[0, :] = False  # the top row is hidden by someone in front
    garments = {g.category_id: g for g in person_garments(identity, parts, person)}
    top, bottom = TOP_CATEGORY[identity.top_type], BOTTOM_CATEGORY[identity.bottom_type]
    assert set(garments) == {top, bottom, 23}
    assert garments[top].mask.sum() == 16 and not garments[top].mask[0].any()
    names = {i: n for i, n, _ in ATTRIBUTES}
    assert f"{identity.top_group} (colour)" in {names[a] for a in garments[top].attribute_ids}
    assert f"{identity.bottom_group} (colour)" in {names[a] for a in garments[bottom].attribute_ids}
    assert garments[23].attribute_ids == ()  # accessories carry no attributes (as in Fashionpedia)
    shoes = [g for g in person_garments(identity, parts, person) if g.category_id == 23]
    assert len(shoes) == 2  # one annotation per shoe


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_synthetic_dataset(
        out, identities=2, images_per_id=1, scenes=5, scene_size=(96, 128), tasks=("mhp", "pap")
    )
    return out


def test_written_cihp_layout_reads_back(written: Path) -> None:
    base = resolve_cihp_root(written)
    assert base == written / "mhp"
    train, val = list_cihp_split(base, "train"), list_cihp_split(base, "val")
    assert len(train) == 4 and len(val) == 1
    assert not {s.image_path.stem for s in train} & {s.image_path.stem for s in val}  # disjoint scenes
    assert (base / "Training" / "Instance_ids" / f"{train[0].image_path.stem}.png").is_file()
    dataset = CihpDataset(val, (96, 128), MEAN, STD)
    item = dataset[0]
    assert item["image"].shape == (3, 96, 128) and item["category"].max() < 20 and item["human"].max() >= 1
    cropped = CihpDataset(val, (96, 128), MEAN, STD, train=True, crop=(48, 64))[0]
    assert cropped["image"].shape == (3, 48, 64) and cropped["human"].shape == (48, 64)
    with pytest.raises(ValueError, match="larger than the input"):
        CihpDataset(val, (96, 128), MEAN, STD, crop=(112, 64))
    # Ground truth as prediction: every person found with part IoU 1.
    persons = split_persons(item["category"].numpy(), item["human"].numpy())
    image = ImagePersons(persons, [p.copy() for p in persons], [1.0] * len(persons))
    assert parsing_ap_summary([image], 20) == {"APp50": 1.0, "APp_vol": 1.0}


def test_written_fashionpedia_layout_reads_back(written: Path) -> None:
    train, val = load_fashionpedia_split(written, "train"), load_fashionpedia_split(written, "val")
    assert len(train.records) == 4 and len(val.records) == 1
    assert {r.path.name for r in train.records}.isdisjoint({r.path.name for r in val.records})
    assert all(r.path.is_file() for r in train.records + val.records)
    assert train.category_ids == val.category_ids and len(train.attribute_ids) == len(ATTRIBUTES)
    data = json.loads((written / "pap" / "annotations" / "instances_attributes_train2020.json").read_text())
    assert all("attribute_ids" in a and "segmentation" in a for a in data["annotations"])
    assert any(a["attribute_ids"] for a in data["annotations"])
    for record, labels, vectors in zip(train.records, train.labels, train.attributes, strict=True):
        assert len(record.boxes) == len(labels) == len(vectors)
    # Ground truth as prediction gives 1.0 under both criteria.
    results = [
        {k: a[k] for k in ("image_id", "category_id", "bbox", "attribute_ids")} | {"score": 1.0}
        for a in data["annotations"]
    ]
    scores = fashionpedia_ap(train.ground_truth, results)
    assert scores["AP_iou_f1"] == pytest.approx(1.0) and scores["AP"] == pytest.approx(1.0)


def test_loader_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a CIHP layout"):
        resolve_cihp_root(tmp_path)
    (tmp_path / "Training").mkdir()
    with pytest.raises(FileNotFoundError, match="train_id.txt"):
        list_cihp_split(tmp_path, "train")
    folder = tmp_path / "pap" / "annotations"
    folder.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="instances_attributes_val2020.json"):
        load_fashionpedia_split(tmp_path, "val")
    bad = folder / "instances_attributes_train2020.json"
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.raises(ValueError, match="no 'attributes' key"):
        load_fashionpedia_split(tmp_path, "train")


def test_scene_styles_follow_their_datasets() -> None:
    """Fashionpedia-style scenes hold 1-2 near persons; crowd scenes are the plain render_scene ones."""
    size = (192, 256)
    for index in range(6):
        crowd = render_styled_scene(0, index, crowd_style(6), size)
        np.testing.assert_array_equal(
            np.asarray(crowd.image), np.asarray(render_scene(0, index, size, 2, 6).image)
        )
        fashion = render_styled_scene(0, index, FASHIONPEDIA_STYLE, size)
        assert 1 <= len(fashion.pids) <= 2
        # every person drawn at >= 70 % of the image height (the visible box may be cut by the frame)
        full_heights = fashion.full_boxes[:, 3] - fashion.full_boxes[:, 1]
        assert (full_heights >= 0.6 * size[0]).all()
    median_area = lambda style: np.median(  # noqa: E731
        [(m.sum()) for i in range(6) for m in render_styled_scene(0, i, style, size).masks]
    )
    assert median_area(FASHIONPEDIA_STYLE) > 3 * median_area(crowd_style(6))
    with pytest.raises(ValueError, match="heights"):
        render_scene(0, 0, size, heights=(0.5, 0.2))
