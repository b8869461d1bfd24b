"""Video → tracklet crops: frame sampling, detectors, tracking, folders (saip.sources.video)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import saip.cli
from saip.sources.box_ops import iou_matrix
from saip.sources.detectors import (
    Detector,
    DetectorUnavailableError,
    MotionDetector,
    create_detector,
    hog_available,
)
from saip.sources.video import VideoCropConfig, extract_video_crops, iter_frames

cv2 = pytest.importorskip("cv2", reason="video sources need opencv-python-headless")

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SIZE = (240, 320)  # H, W
FRAMES = 40


def figure_box(frame: int, who: str) -> tuple[int, int, int, int] | None:
    """x1, y1, x2, y2 of the synthetic walkers (None when absent)."""
    if who == "a":
        x = 10 + 5 * frame
        return x, 10, x + 40, 120
    if who == "b":
        x = 270 - 5 * frame
        return x, 130, x + 36, 230
    if who == "ghost" and frame in (8, 9):
        return 150, 10, 190, 100
    return None


def write_video(path: Path) -> Path:
    """A small MJPG video of two walking textured 'persons' (head + body) and a flash 'ghost'."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE[1], SIZE[0]))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    # clothing texture that moves with each person (uniform blobs would only show moving edges)
    texture = {who: rng.integers(-50, 50, (120, 50, 3)) for who in ("a", "b", "ghost")}
    colours = {"a": (40, 200, 180), "b": (200, 80, 60), "ghost": (200, 200, 200)}
    for frame in range(FRAMES):
        image = np.full((*SIZE, 3), 90, np.uint8) + rng.integers(0, 6, (*SIZE, 3), dtype=np.uint8)
        for who, colour in colours.items():
            box = figure_box(frame, who)
            if box is None:
                continue
            x1, y1, x2, y2 = box
            head = (x2 - x1) // 3
            mask = np.zeros(SIZE, np.uint8)
            cv2.circle(mask, ((x1 + x2) // 2, y1 + head), head, 1, -1)
            cv2.rectangle(mask, (x1, y1 + 2 * head), (x2, y2), 1, -1)
            person = np.clip(np.array(colour) + texture[who][: y2 - y1, : x2 - x1], 0, 255).astype(np.uint8)
            region = image[y1:y2, x1:x2]
            region[mask[y1:y2, x1:x2] > 0] = person[mask[y1:y2, x1:x2] > 0]
        writer.write(image)
    writer.release()
    return path


class ScriptedDetector:
    """Returns the true boxes of the synthetic video; knows the frame from its call count."""

    name = "scripted"

    def __init__(self, every: int) -> None:
        self.every, self.calls = every, 0

    def reset(self) -> None:
        self.calls = 0

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        frame = self.calls * self.every
        self.calls += 1
        boxes = [figure_box(frame, who) for who in ("a", "b", "ghost")]
        return np.array([[*b, 1.0] for b in boxes if b is not None], dtype=float).reshape(-1, 5)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "street.avi")


def test_iter_frames_samples_and_limits(video: Path, tmp_path: Path) -> None:
    assert [i for i, _ in iter_frames(video, every=9)] == [0, 9, 18, 27, 36]
    frames = list(iter_frames(video, every=2, max_frames=9))
    assert [i for i, _ in frames] == [0, 2, 4, 6, 8] and frames[0][1].shape == (*SIZE, 3)
    with pytest.raises(OSError, match="nothing.avi"):
        list(iter_frames(tmp_path / "nothing.avi"))


def test_tracklet_folders_with_a_scripted_detector(video: Path, tmp_path: Path) -> None:
    detector = ScriptedDetector(every=2)
    assert isinstance(detector, Detector)
    config = VideoCropConfig(every=2, min_height=64, min_tracklet_length=3)
    summary = extract_video_crops([video], tmp_path, detector, config)
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert folders == ["street_t00000", "street_t00001"]  # the 1-frame ghost (t00002) is dropped
    expected_frames = [f"{f:06d}.jpg" for f in range(0, FRAMES, 2)]
    for folder in folders:
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == expected_frames
    crop = cv2.imread(str(tmp_path / "street_t00000" / "000010.jpg"))
    # walker a at frame 10 is 40x110 at y=10, padded by 10% per side (clipped at the top) -> 48x131
    assert crop.shape[:2] == (131, 48)
    assert np.abs(crop[60:120, 10:38].mean(axis=(0, 1)) - (40, 200, 180)).max() < 20
    video_summary = summary["videos"][0]
    assert video_summary["frames_sampled"] == 20 and video_summary["detections"] == 41
    assert (video_summary["tracklets"], video_summary["tracklets_kept"], video_summary["crops"]) == (3, 2, 40)
    assert json.loads((tmp_path / "summary.json").read_text())["totals"]["crops"] == 40


def test_min_height_and_min_tracklet_length(video: Path, tmp_path: Path) -> None:
    summary = extract_video_crops(
        [video],
        tmp_path,
        ScriptedDetector(every=1),
        VideoCropConfig(every=1, min_height=105, min_tracklet_length=2),
    )
    # walker b is 100 px tall (rejected), the ghost 90 px: only walker a (110 px) is written
    assert summary["totals"]["tracklets_kept"] == 1 and summary["totals"]["crops"] == FRAMES


def test_motion_detector_finds_the_walkers(video: Path) -> None:
    detector = MotionDetector(warmup=20, min_area=300)
    checked = 0
    for index, frame in iter_frames(video):
        boxes = detector.detect(frame)
        if index < 20:  # frames that build the background model
            assert len(boxes) == 0
            continue
        truth = np.array([figure_box(index, "a"), figure_box(index, "b")], dtype=float)
        best = iou_matrix(truth, boxes).max(axis=1) if len(boxes) else np.zeros(2)
        assert (best > 0.7).all(), f"frame {index}: walkers found with IoU {best}"
        checked += 1
    assert checked == FRAMES - 20


def test_cli_from_video_with_motion_detector(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "crops"
    args = ["data", "from-video", str(video), "--out", str(out), "--detector", "motion", "--every", "1"]
    result = CliRunner().invoke(saip.cli.app, [*args, "--min-height", "60", "--max-frames", "36"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"] == "motion" and summary["videos"][0]["frames_read"] == 36
    assert summary["totals"]["tracklets_kept"] >= 2
    for folder in summary["videos"][0]["folders"]:
        assert folder.startswith("street_t") and len(list((out / folder).glob("*.jpg"))) >= 3


def test_unreadable_and_duplicate_videos(video: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"not a video")
    summary = extract_video_crops(
        [video, bad], tmp_path / "o", ScriptedDetector(every=5), VideoCropConfig(every=5)
    )
    assert summary["unreadable"] == [str(bad)] and summary["totals"]["frames_sampled"] == 8
    result = CliRunner().invoke(saip.cli.app, ["data", "from-video", str(bad), "--out", str(tmp_path / "c")])
    assert result.exit_code == 1 and "broken.avi" in result.output
    with pytest.raises(ValueError, match="street"):
        extract_video_crops([video, video], tmp_path / "d", ScriptedDetector(every=5))


def test_hog_detector_or_clear_error() -> None:
    if hog_available():
        detector = create_detector("hog")
        assert detector.detect(np.zeros((256, 128, 3), np.uint8)).shape[1] == 5
        return
    with pytest.raises(DetectorUnavailableError, match="--detector motion"):
        create_detector("hog")
    result = CliRunner().invoke(
        saip.cli.app, ["data", "from-video", "x.avi", "--out", "o", "--detector", "hog"]
    )
    assert result.exit_code == 2 and "--detector" in result.output and "OpenCV" in result.output
    assert isinstance(create_detector("auto"), MotionDetector)
    with pytest.raises(ValueError, match="unknown detector"):
        create_detector("yolo")


@pytest.mark.skipif(
    not VTEST.is_file(), reason=f"{VTEST} not found (Debian package opencv-doc is not installed)"
)
def test_real_video_vtest(tmp_path: Path) -> None:
    summary = extract_video_crops(
        [VTEST], tmp_path, create_detector("auto"), VideoCropConfig(every=2, max_frames=120, min_height=48)
    )
    assert summary["videos"][0]["frames_sampled"] == 60  # every 2nd of the first 120 frames
    assert summary["totals"]["tracklets_kept"] >= 1 and summary["totals"]["crops"] >= 3


def test_hog_wrapper_converts_and_suppresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HOG wrapper's box conversion, upscale and NMS, with OpenCV's HOG replaced by a stub."""

    class StubHOG:
        def setSVMDetector(self, weights: np.ndarray) -> None:  # noqa: N802 - OpenCV's name
            self.weights = weights

        def detectMultiScale(self, image: np.ndarray, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
            assert image.shape[:2] == (200, 100)  # upscaled 2x
            rects = np.array([[20, 40, 64, 128], [22, 40, 64, 128], [100, 0, 64, 128]])  # x, y, w, h
            return rects, np.array([[1.5], [0.9], [0.2]])

    monkeypatch.setattr(cv2, "HOGDescriptor", StubHOG, raising=False)
    monkeypatch.setattr(cv2, "HOGDescriptor_getDefaultPeopleDetector", lambda: np.zeros(3781), raising=False)
    detector = create_detector("hog", upscale=2.0, min_score=0.5)
    boxes = detector.detect(np.zeros((100, 50, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[10, 20, 42, 84, 1.5]])  # duplicate suppressed, low score dropped
