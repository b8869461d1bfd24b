"""Person crops from video, grouped into tracklets (how LUPerson was built, Fu et al. CVPR 2021).

Pipeline per video: sample every ``every``-th frame (OpenCV ``VideoCapture``), detect people
(:mod:`saip.sources.detectors`), link detections into tracklets with an IoU tracker
(:mod:`saip.sources.tracking`), and write each tracklet's crops to
``OUT/<video-stem>_t<tracklet:05d>/<frame:06d>.jpg``. A tracklet is one person seen over
consecutive sampled frames, so the folders serve as pseudo-identities. Tracklets with fewer than
``min_tracklet_length`` crops are dropped (mostly false or fleeting detections). Crops are kept in
memory only until their tracklet is long enough, so memory stays bounded on long videos.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from saip.sources.crops import padded_crop_box
from saip.sources.detectors import Detector, import_cv2
from saip.sources.tracking import IoUTracker, Track

logger = logging.getLogger("saip.sources")


@dataclass(frozen=True)
class VideoCropConfig:
    """Knobs of :func:`extract_video_crops`.

    Attributes:
        every: process one frame out of ``every`` (1 = all frames).
        max_frames: stop after reading this many frames of each video (None = whole video).
        min_height: minimum detection height in pixels for a crop to be written.
        aspect_range: allowed detection ``w / h`` for a crop to be written.
        pad: fraction of the box size added on each side before cropping.
        min_tracklet_length: tracklets with fewer crops are discarded.
        iou_threshold, max_age, matcher: IoU tracker settings (:class:`IoUTracker`).
        quality: JPEG quality.
    """

    every: int = 5
    max_frames: int | None = None
    min_height: int = 64
    aspect_range: tuple[float, float] = (0.2, 1.0)
    pad: float = 0.1
    min_tracklet_length: int = 3
    iou_threshold: float = 0.3
    max_age: int = 1
    matcher: str = "hungarian"
    quality: int = 95

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.min_tracklet_length < 1:
            raise ValueError(f"min_tracklet_length must be >= 1, got {self.min_tracklet_length}")


def iter_frames(
    path: str | os.PathLike[str], every: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, BGR frame)`` for every ``every``-th frame of the video at ``path``.

    Raises ``OSError`` naming the file if OpenCV cannot open it. Skipped frames are only
    ``grab()``-ed (not decoded to BGR), which is much cheaper than reading them.
    """
    cv2 = import_cv2()
    capture = cv2.VideoCapture(os.fspath(path))
    if not capture.isOpened():
        raise OSError(f"cannot open video {path} (missing file or codec not supported by OpenCV)")
    try:
        index = 0
        while max_frames is None or index < max_frames:
            if not capture.grab():
                break
            if index % every == 0:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    logger.warning("%s: frame %d could not be decoded; stopping there", path, index)
                    break
                yield index, frame
            index += 1
    finally:
        capture.release()


def _keep(box: np.ndarray, config: VideoCropConfig) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    low, high = config.aspect_range
    return h >= config.min_height and w > 0 and low <= w / h <= high


class _TrackletWriter:
    """Buffers a tracklet's crops until it is long enough, then writes them (and later ones) to disk."""

    def __init__(self, out_dir: Path, stem: str, config: VideoCropConfig) -> None:
        self.out_dir, self.stem, self.config = out_dir, stem, config
        self.pending: dict[int, list[tuple[int, np.ndarray]]] = {}
        self.written: dict[int, int] = {}
        self.crops = 0

    def folder(self, track_id: int) -> Path:
        return self.out_dir / f"{self.stem}_t{track_id:05d}"

    def _write(self, track_id: int, frame: int, crop: np.ndarray) -> None:
        cv2 = import_cv2()
        folder = self.folder(track_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{frame:06d}.jpg"
        if not cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, self.config.quality]):
            raise OSError(f"could not write crop {path}")
        self.written[track_id] = self.written.get(track_id, 0) + 1
        self.crops += 1

    def add(self, track_id: int, frame: int, crop: np.ndarray) -> None:
        if track_id in self.written:
            self._write(track_id, frame, crop)
            return
        buffer = self.pending.setdefault(track_id, [])
        buffer.append((frame, crop))
        if len(buffer) >= self.config.min_tracklet_length:
            for buffered_frame, buffered_crop in self.pending.pop(track_id):
                self._write(track_id, buffered_frame, buffered_crop)

    def close(self, track: Track) -> None:
        self.pending.pop(track.track_id, None)  # too short: never written


def _process_video(
    path: Path, out_dir: Path, detector: Detector, config: VideoCropConfig
) -> dict[str, object]:
    reset = getattr(detector, "reset", None)
    if callable(reset):
        reset()
    tracker = IoUTracker(config.iou_threshold, config.max_age, config.matcher)
    writer = _TrackletWriter(out_dir, path.stem, config)
    frames_read = frames_sampled = detections = 0
    for index, frame in iter_frames(path, config.every, config.max_frames):
        frames_read = index + 1
        frames_sampled += 1
        boxes = np.asarray(detector.detect(frame), dtype=np.float64).reshape(-1, 5)
        detections += len(boxes)
        updated, closed = tracker.update(index, boxes)
        for track, box in updated:
            if not _keep(box, config):
                continue
            x1, y1, x2, y2 = box[:4]
            crop_box = padded_crop_box((x1, y1, x2 - x1, y2 - y1), config.pad, frame.shape[1], frame.shape[0])
            if crop_box is not None:
                cx1, cy1, cx2, cy2 = crop_box
                writer.add(track.track_id, index, frame[cy1:cy2, cx1:cx2].copy())
        for track in closed:
            writer.close(track)
    tracks = tracker.finish()
    for track in tracks:
        writer.close(track)
    return {
        "video": str(path),
        "frames_read": frames_read,
        "frames_sampled": frames_sampled,
        "detections": detections,
        "tracklets": len(tracks),
        "tracklets_kept": len(writer.written),
        "crops": writer.crops,
        "folders": [writer.folder(t).name for t in sorted(writer.written)],
    }


def extract_video_crops(
    videos: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    detector: Detector,
    config: VideoCropConfig | None = None,
) -> dict[str, object]:
    """Write tracklet crops of every video to ``out_dir`` and return (and save) ``summary.json``.

    Videos OpenCV cannot open are skipped with a warning naming them and listed under
    ``"unreadable"``; two videos with the same file stem are refused (their folders would mix).
    """
    config = config or VideoCropConfig()
    if not isinstance(detector, Detector):
        raise TypeError(f"detector {detector!r} has no detect(frame_bgr) method")
    paths = [Path(v) for v in videos]
    if not paths:
        raise ValueError("no video given")
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(
            f"videos share a file stem, their tracklet folders would mix: {', '.join(duplicates)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_video: list[dict[str, object]] = []
    unreadable: list[str] = []
    for path in paths:
        try:
            per_video.append(_process_video(path, out_dir, detector, config))
        except OSError as error:
            logger.warning("skipping video %s: %s", path, error)
            unreadable.append(str(path))
    summary: dict[str, object] = {
        "detector": getattr(detector, "name", type(detector).__name__),
        "config": asdict(config),
        "videos": per_video,
        "unreadable": unreadable,
        "totals": {
            key: sum(int(v[key]) for v in per_video)  # type: ignore[call-overload]
            for key in ("frames_read", "frames_sampled", "detections", "tracklets", "tracklets_kept", "crops")
        },
    }
    tmp = out_dir / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    os.replace(tmp, out_dir / "summary.json")
    return summary
