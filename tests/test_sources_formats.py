"""Readers of the HP1M source formats (saip.sources.formats): AI Challenger, CIHP, MHPv2, Fashionpedia,
Human-Art, plus format detection and one-line InputErrors naming the file, on tiny files written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import saip  # noqa: F401  (import shim first)
from saip.errors import InputError
from saip.sources.formats import dataset_name, default_images_root, detect_format, read_person_boxes
from saip.sources.formats.label_masks import instance_boxes

# 14 AI Challenger flags: 7 visible (1), 3 occluded (2), 4 not labelled (3)
AIC_FLAGS = [1] * 7 + [2] * 3 + [3] * 4


def aic_keypoints(flags: list[int]) -> list[int]:
    return [value for i, flag in enumerate(flags) for value in (10 + i, 20 + i, flag)]


def write_aic(path: Path) -> Path:
    records = [
        {
            "url": "http://example/abc.jpg",
            "image_id": "abc",
            "human_annotations": {"human1": [10, 20, 60, 140], "human2": [100, 5, 130, 105]},
            "keypoint_annotations": {"human1": aic_keypoints(AIC_FLAGS)},
        },
        {"image_id": "def", "human_annotations": {"human1": [0, 0, 30, 90]}, "keypoint_annotations": {}},
    ]
    path.write_text(json.dumps(records))
    return path


def save_labels(path: Path, labels: np.ndarray, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":  # palette PNG (CIHP's style): the pixel values are palette indices
        image = Image.new("P", (labels.shape[1], labels.shape[0]))
        image.putdata(labels.reshape(-1).tolist())
        image.putpalette([v for i in range(256) for v in (i * 40 % 256, i * 90 % 256, i * 10 % 256)])
    elif mode == "RGB":  # MHPv2's style: the label in all 3 channels
        image = Image.fromarray(np.repeat(labels[..., None], 3, axis=2).astype(np.uint8))
    else:
        image = Image.fromarray(labels.astype(np.uint8))
    image.save(path)


def test_instance_boxes_are_tight_pixel_boxes() -> None:
    labels = np.zeros((20, 16), np.uint8)
    labels[3:8, 2:6] = 4  # rows 3..7, cols 2..5
    labels[10, 9] = 2  # a single pixel
    assert instance_boxes(labels) == {2: (9.0, 10.0, 1.0, 1.0), 4: (2.0, 3.0, 4.0, 5.0)}
    assert instance_boxes(np.zeros((4, 4), np.uint8)) == {}


def test_aic_boxes_visibility_and_image_folder(tmp_path: Path) -> None:
    path = write_aic(tmp_path / "keypoint_train_annotations_20170909.json")
    (tmp_path / "keypoint_train_images_20170902").mkdir()
    assert detect_format(path) == "aic"
    source = read_person_boxes(path)
    assert source.format == "aic" and source.images == tmp_path / "keypoint_train_images_20170902"
    assert [(b.image, b.instance_id, b.box) for b in source.boxes] == [
        ("abc.jpg", "human1", (10.0, 20.0, 50.0, 120.0)),
        ("abc.jpg", "human2", (100.0, 5.0, 30.0, 100.0)),
        ("def.jpg", "human1", (0.0, 0.0, 30.0, 90.0)),
    ]
    first, no_keypoints, _ = source.boxes
    assert first.visibility == pytest.approx(7 / 14) and first.num_keypoints == 10
    assert no_keypoints.visibility is None and no_keypoints.num_keypoints is None


def test_aic_bad_flags_name_the_file_and_record(tmp_path: Path) -> None:
    path = tmp_path / "aic.json"
    record = {"image_id": "x", "human_annotations": {"human1": [0, 0, 5, 5]}}
    record["keypoint_annotations"] = {"human1": aic_keypoints([1] * 13 + [0])}
    path.write_text(json.dumps([record]))
    with pytest.raises(InputError, match=r"aic\.json: \[0\]\.keypoint_annotations\.human1: .*1, 2 or 3"):
        read_person_boxes(path)


def test_cihp_boxes_from_human_ids(tmp_path: Path) -> None:
    split = tmp_path / "instance-level_human_parsing" / "Training"
    people = np.zeros((30, 20), np.uint8)
    people[3:8, 2:6] = 1  # rows 3..7, cols 2..5 -> (2, 3, 4, 5)
    people[10:20, 8] = 2  # rows 10..19, col 8 -> (8, 10, 1, 10)
    save_labels(split / "Human_ids" / "0000001.png", people, mode="P")
    save_labels(split / "Human_ids" / "0000002.png", np.zeros((5, 5), np.uint8))
    save_labels(split / "Instance_ids" / "0000001.png", people * 7)  # part instances: not read
    (split / "Images").mkdir()
    assert detect_format(split) == "cihp"
    source = read_person_boxes(split)
    assert source.format == "cihp" and default_images_root(source) == split / "Images"
    assert [(b.image, b.instance_id, b.box) for b in source.boxes] == [
        ("0000001.jpg", "1", (2.0, 3.0, 4.0, 5.0)),
        ("0000001.jpg", "2", (8.0, 10.0, 1.0, 10.0)),
    ]
    assert source.skipped == {"no_person_pixels": 1}


def test_cihp_without_human_ids_says_why(tmp_path: Path) -> None:
    save_labels(tmp_path / "Val" / "Instance_ids" / "1.png", np.ones((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"Val: no Human_ids/.*part instances"):
        read_person_boxes(tmp_path / "Val", "cihp")


def test_mhp_boxes_one_png_per_person(tmp_path: Path) -> None:
    split = tmp_path / "LV-MHP-v2" / "train"
    first = np.zeros((30, 20), np.uint8)
    first[3:8, 2:6] = 13  # part labels, any non-zero value is the person
    first[5, 4] = 40
    second = np.zeros((30, 20), np.uint8)
    second[0:10, 10:15] = 2
    save_labels(split / "parsing_annos" / "a_b_02_01.png", first, mode="RGB")
    save_labels(split / "parsing_annos" / "a_b_02_02.png", second, mode="RGB")
    save_labels(split / "parsing_annos" / "7_03_03.png", np.zeros((30, 20), np.uint8), mode="RGB")
    save_labels(split / "parsing_annos" / "notes.png", second)
    assert detect_format(split) == "mhp" and dataset_name("mhp") == "mhpv2"
    source = read_person_boxes(split)
    assert source.images == split / "images"
    assert [(b.image, b.instance_id, b.box) for b in source.boxes] == [
        ("a_b.jpg", "1", (2.0, 3.0, 4.0, 5.0)),
        ("a_b.jpg", "2", (10.0, 0.0, 5.0, 10.0)),
    ]
    assert source.skipped == {"empty_mask": 1, "not_a_person_mask": 1}


def write_fashionpedia(path: Path) -> Path:
    names = ["shirt, blouse", "pants", "shoe", "umbrella", "sleeve"]
    categories = [{"id": i, "name": n, "supercategory": "x", "level": 1} for i, n in enumerate(names)]
    ann = [
        (1, 0, [10, 10, 40, 50]),  # shirt
        (1, 1, [12, 55, 36, 60]),  # pants
        (1, 2, [15, 115, 10, 8]),  # shoe: the lowest box, bottom at 123
        (1, 4, [5, 20, 10, 20]),  # sleeve: the leftmost box, x from 5
        (1, 3, [100, 0, 80, 80]),  # umbrella: not worn, left out of the union
        (2, 1, [0, 0, 10, 40]),
        (2, 1, [50, 0, 10, 40]),  # two pants: two wearers
    ]
    data = {
        "info": {},
        "attributes": [{"id": 0, "name": "symmetrical"}],
        "categories": categories,
        "images": [{"id": i, "file_name": f"f{i}.jpg", "width": 200, "height": 200} for i in (1, 2, 3)],
        "annotations": [
            {"id": k, "image_id": i, "category_id": c, "bbox": b, "attribute_ids": []}
            for k, (i, c, b) in enumerate(ann)
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_fashionpedia_union_of_garments(tmp_path: Path) -> None:
    path = write_fashionpedia(tmp_path / "instances_attributes_val2020.json")
    assert detect_format(path) == "fashionpedia"
    source = read_person_boxes(path)
    (person,) = source.boxes
    assert person.image == "f1.jpg" and person.instance_id == "0"
    assert person.box == (5.0, 10.0, 45.0, 113.0)  # x 5..50, y 10..123
    assert person.extra == {"garments": 4} and person.visibility is None
    assert source.skipped == {"not_worn": 1, "several_wearers": 1, "no_garments": 1}


def write_humanart(root: Path) -> Path:
    data = {
        "info": {},
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}],
        "images": [
            {"id": 1, "file_name": "images/2D_virtual_human/cartoon/000001.jpg", "category": "cartoon"},
            {"id": 2, "file_name": "images/3D_virtual_human/sculpture/000002.jpg", "category": "sculpture"},
        ],
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "bbox": [1, 2, 30, 80],
                "iscrowd": 0,
                "num_keypoints": 17,
            },
            {
                "id": 6,
                "image_id": 2,
                "category_id": 1,
                "bbox": [3, 4, 20, 70],
                "iscrowd": 0,
                "num_keypoints": 0,
            },
            {
                "id": 7,
                "image_id": 2,
                "category_id": 1,
                "bbox": [0, 0, 9, 9],
                "iscrowd": 1,
                "num_keypoints": 0,
            },
        ],
    }
    for ann in data["annotations"]:
        ann["keypoints_21"] = [0] * 63
    path = root / "annotations" / "training_humanart.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_humanart_keeps_art_style(tmp_path: Path) -> None:
    path = write_humanart(tmp_path / "HumanArt")
    assert detect_format(path) == "humanart"
    source = read_person_boxes(path)
    assert source.format == "humanart" and source.images == tmp_path / "HumanArt"
    assert [(b.instance_id, b.box, b.extra) for b in source.boxes] == [
        ("5", (1.0, 2.0, 30.0, 80.0), {"art_style": "cartoon"}),
        ("6", (3.0, 4.0, 20.0, 70.0), {"art_style": "sculpture"}),
    ]
    assert source.boxes[0].visibility == pytest.approx(1.0) and source.skipped == {"iscrowd": 1}


def test_coco_and_crowdhuman_are_detected(tmp_path: Path) -> None:
    coco = tmp_path / "person_keypoints_val2017.json"
    coco.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg"}],
                "categories": [{"id": 1, "name": "person"}],
                "annotations": [{"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            }
        )
    )
    odgt = tmp_path / "annotation_val.odgt"
    odgt.write_text(json.dumps({"ID": "x", "gtboxes": [{"tag": "person", "fbox": [1, 2, 3, 4]}]}) + "\n")
    assert detect_format(coco) == "coco" and read_person_boxes(coco).boxes[0].box == (1.0, 2.0, 3.0, 4.0)
    assert detect_format(odgt) == "odgt" and dataset_name("odgt") == "crowdhuman"
    assert read_person_boxes(odgt, "crowdhuman").boxes[0].image == "x.jpg"


@pytest.mark.parametrize(
    ("name", "content", "fmt", "match"),
    [
        ("missing.json", None, None, r"missing\.json does not exist"),
        ("broken.json", "{not json", None, r"broken\.json: not valid JSON"),
        ("other.json", '{"a": 1}', None, r"other\.json: not a known annotation JSON"),
        ("boxes.txt", "a.jpg,1,2,3,4\n", None, r"boxes\.txt from its suffix: pass --format"),
        ("a.json", "[]", "nope", r"unknown annotation format 'nope' for .*a\.json"),
        ("a.json", "[]", "cihp", r"a\.json: the cihp format reads a dataset split folder"),
        (
            "nobox.json",
            '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1}]}',
            None,
            r"nobox\.json: annotations\[0\]: expected a box",
        ),
        ("nofile.json", '{"images": [{"id": 1}], "annotations": []}', None, r"nofile\.json: malformed coco"),
    ],
)
def test_bad_input_is_one_line_naming_the_file(
    tmp_path: Path, name: str, content: str | None, fmt: str | None, match: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=match) as error:
        read_person_boxes(path, fmt)
    assert "\n" not in str(error.value)


def test_missing_file_is_also_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="gone.json"):
        read_person_boxes(tmp_path / "gone.json")


def test_unknown_folder_and_unreadable_mask(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"plain: a CIHP split has Human_ids/"):
        read_person_boxes(tmp_path / "plain")
    masks = tmp_path / "split" / "Human_ids"
    masks.mkdir(parents=True)
    (masks / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(InputError, match=r"0001\.png: not a readable label PNG"):
        read_person_boxes(tmp_path / "split")
