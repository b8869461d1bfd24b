"""Every user error ends as one short line on stderr naming the option or file, with exit code 2.

Also the malicious-pickle part of the reliability suite: a pickle whose ``__reduce__`` runs a
command is handed to every path that reads torch files (``--resume``, ``model.weights``,
``expert.teacher``, ``eval probe``, ``eval reid``); it is refused and never executed.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from tests.pretrain_helpers import TINY_OVERRIDES, write_images

TINY = [o for o in TINY_OVERRIDES if not o.startswith("probe.")] + [
    "train.max_steps=1",
    "probe.enabled=false",
]


class _Exploit:
    """Unpickling this would run ``touch MARKER`` (what a hostile checkpoint does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    paths = {"root": root, "marker": root / "EXPLOITED"}
    write_images(root / "imgs", count=8)
    (root / "empty").mkdir()
    (root / "corrupt").mkdir()
    for i in range(3):
        (root / "corrupt" / f"x{i}.jpg").write_bytes(b"not an image")
    (root / "a_file.txt").write_text("x")
    torch.save({"model": _Exploit(paths["marker"])}, root / "evil.pt")
    (root / "evilrun" / "checkpoints").mkdir(parents=True)
    torch.save({"method": _Exploit(paths["marker"])}, root / "evilrun" / "checkpoints" / "last.pt")
    (root / "truncrun" / "checkpoints").mkdir(parents=True)
    torch.save({"method": {"w": torch.ones(1000)}}, root / "full.pt")
    (root / "truncrun" / "checkpoints" / "last.pt").write_bytes((root / "full.pt").read_bytes()[:300])
    torch.save({"pos_embed": torch.zeros(3, 3)}, root / "wrong.pt")
    (root / "reid_noquery" / "bounding_box_test").mkdir(parents=True)
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        (root / "reid_badnames" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((64, 32, 3), np.uint8)).save(root / "reid_badnames" / split / "foo.jpg")
    pose = root / "pose"
    for split in ("train", "val"):
        (pose / "images" / split).mkdir(parents=True)
    (pose / "annotations").mkdir()
    category = {"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}
    annotation = {"id": 7, "image_id": 1, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0}
    for split, (image, ann) in {
        "train": ({"id": 1, "width": 10, "height": 10, "file_name": "a.jpg"}, annotation),  # no bbox
        "val": ({"id": 1, "width": 10, "height": 10}, {**annotation, "bbox": [0, 0, 5, 5]}),  # no file_name
    }.items():
        content = {"images": [image], "annotations": [ann], "categories": [category]}
        (pose / "annotations" / f"person_keypoints_{split}.json").write_text(json.dumps(content))
    return paths


def _pretrain(tmp_path: Path, *args: str) -> list[str]:
    return ["pretrain", "--out", str(tmp_path / "run"), *args, *TINY]


CASES = {
    "data missing": (lambda f, t: _pretrain(t, "--data", str(f["root"] / "nope")), "data.root (--data)"),
    "data empty": (lambda f, t: _pretrain(t, "--data", str(f["root"] / "empty")), "no images"),
    "data is a file": (lambda f, t: _pretrain(t, "--data", str(f["root"] / "a_file.txt")), "a_file.txt"),
    "data only corrupt": (
        lambda f, t: _pretrain(t, "--data", str(f["root"] / "corrupt")),
        "could be decoded",
    ),
    "file list missing": (
        lambda f, t: _pretrain(t, "--data", str(f["root"] / "imgs"), "data.file_list=nolist.txt"),
        "data.file_list",
    ),
    "unknown backbone": (
        lambda f, t: _pretrain(t, "--data", str(f["root"] / "imgs"), "--backbone", "nosuchnet"),
        "model.backbone='nosuchnet'",
    ),
    "wrong-shape weights (pretrain)": (
        lambda f, t: _pretrain(
            t, "--data", str(f["root"] / "imgs"), f"model.weights={f['root'] / 'wrong.pt'}"
        ),
        "wrong.pt",
    ),
    "truncated checkpoint on resume": (
        lambda f, t: ["pretrain", "--resume", "--out", str(f["root"] / "truncrun")],
        "truncrun/checkpoints/last.pt",
    ),
    "out under a file": (
        lambda f, t: _pretrain(Path(f["root"] / "a_file.txt"), "--data", str(f["root"] / "imgs")),
        "--out",
    ),
    "wrong-shape weights (eval)": (
        lambda f, t: ["eval", "reid", "--backbone", str(f["root"] / "wrong.pt"), "--arch", "vit_tiny"],
        "wrong.pt",
    ),
    "reid without query/": (
        lambda f, t: [
            "eval",
            "reid",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(f["root"] / "reid_noquery"),
        ],
        "reid_noquery",
    ),
    "reid unparseable names": (
        lambda f, t: [
            "eval",
            "reid",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(f["root"] / "reid_badnames"),
        ],
        "reid_badnames",
    ),
    "pose annotation without bbox": (
        lambda f, t: ["eval", "pose", "--backbone", "random:vit_tiny", "--data", str(f["root"] / "pose")],
        "person_keypoints_train.json: annotation 7 has no 'bbox'",
    ),
    "unknown option": (lambda f, t: ["eval", "reid", "--bogus"], "--bogus"),
}
EXPLOITS = {
    "--resume": lambda f, t: ["pretrain", "--resume", "--out", str(f["root"] / "evilrun")],
    "model.weights": lambda f, t: _pretrain(
        t, "--data", str(f["root"] / "imgs"), f"model.weights={f['root'] / 'evil.pt'}"
    ),
    "expert.teacher": lambda f, t: _pretrain(
        t,
        "--data",
        str(f["root"] / "imgs"),
        "expert.kind=frozen",
        f"expert.teacher=vit_tiny:{f['root'] / 'evil.pt'}",
    ),
    "eval probe": lambda f, t: [
        "eval",
        "probe",
        "--backbone",
        str(f["root"] / "evil.pt"),
        "--arch",
        "vit_tiny",
    ],
    "eval reid": lambda f, t: [
        "eval",
        "reid",
        "--backbone",
        str(f["root"] / "evil.pt"),
        "--arch",
        "vit_tiny",
    ],
}


def _assert_one_line_error(result, culprit: str) -> None:
    assert result.exit_code == 2, result.output
    progress = ("WARNING", "INFO", "pretrain:")  # log records and the progress bar are not the error
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(progress)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and culprit in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_line_naming_the_culprit(case, files, tmp_path):
    make_args, culprit = CASES[case]
    result = CliRunner().invoke(saip.cli.app, make_args(files, tmp_path))
    _assert_one_line_error(result, culprit)


@pytest.mark.parametrize("path", list(EXPLOITS))
def test_malicious_pickle_is_refused_and_never_executed(path, files, tmp_path):
    result = CliRunner().invoke(saip.cli.app, EXPLOITS[path](files, tmp_path))
    _assert_one_line_error(result, "evil")
    assert "asks to run code (posix.system)" in result.stderr
    assert not files["marker"].exists()


def test_bad_data_leaves_no_run_folder(files, tmp_path):
    CliRunner().invoke(saip.cli.app, _pretrain(tmp_path, "--data", str(files["root"] / "corrupt")))
    assert not (tmp_path / "run").exists()


def test_full_disk_at_a_checkpoint_is_one_line(files, tmp_path, monkeypatch):
    def no_space(payload, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(torch, "save", no_space)
    result = CliRunner().invoke(saip.cli.app, _pretrain(tmp_path, "--data", str(files["root"] / "imgs")))
    _assert_one_line_error(result, f"No space left on device: {tmp_path / 'run' / 'checkpoints' / 'last.pt'}")
    assert not list((tmp_path / "run" / "checkpoints").glob(".*.tmp"))  # the atomic write cleaned up


def test_video_without_opencv_is_one_line(files, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "cv2", None)  # import cv2 -> ImportError
    video = files["root"] / "a_file.txt"
    result = CliRunner().invoke(
        saip.cli.app, ["data", "from-video", str(video), "--out", str(tmp_path / "v")]
    )
    _assert_one_line_error(result, "OpenCV")
