"""Person detectors for building crops from video: a Protocol, OpenCV HOG, and a motion fallback.

A detector is anything with ``detect(frame_bgr) -> (N, 5) array of x1, y1, x2, y2, score``
(:class:`Detector`), so a torch detector plugs in by writing that one method.

- :class:`HOGPeopleDetector`: Dalal & Triggs (CVPR 2005) HOG + linear SVM people detector as
  shipped by OpenCV (``cv2.HOGDescriptor_getDefaultPeopleDetector``), followed by NMS. OpenCV
  5.x removed HOG from the main modules (it lives in opencv_contrib), so it is only available
  with ``opencv-python(-headless) < 5``; :func:`hog_available` tells.
- :class:`MotionDetector`: background subtraction (Zivkovic's MOG2, ``cv2.BackgroundSubtractorMOG2``)
  + morphology + connected contours. It finds *moving blobs*, not persons: it is weaker (groups of
  people walking together merge, static people vanish after a while, a moving camera breaks it),
  and is meant as an always-available fallback for fixed street cameras, which is how LUPerson's
  source videos were filmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from saip.errors import MissingDependencyError
from saip.sources.box_ops import nms

logger = logging.getLogger("saip.sources")


def import_cv2() -> Any:
    """The ``cv2`` module, or an ImportError saying how to install it."""
    try:
        import cv2
    except ImportError as error:
        raise MissingDependencyError(
            "video sources need OpenCV: pip install 'saip[video]' (opencv-python-headless)"
        ) from error
    return cv2


@runtime_checkable
class Detector(Protocol):
    """Finds people in one BGR ``uint8`` frame ``(H, W, 3)``.

    Returns a float array ``(N, 5)``: ``x1, y1, x2, y2`` in pixels and a score (higher is more
    confident). Detectors may keep state across frames of one video; if they have a ``reset()``
    method it is called before each new video.
    """

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray: ...


class DetectorUnavailableError(RuntimeError):
    """The requested detector cannot run with the installed libraries."""


def hog_available() -> bool:
    """Whether the installed OpenCV has the HOG people detector (OpenCV < 5 does)."""
    cv2 = import_cv2()
    return hasattr(cv2, "HOGDescriptor") and hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector")


def _check_frame(frame_bgr: np.ndarray) -> None:
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(
            f"frame must be an (H, W, 3) BGR array, got {getattr(frame_bgr, 'shape', frame_bgr)}"
        )


class HOGPeopleDetector:
    """OpenCV's HOG + SVM people detector (Dalal & Triggs 2005) with NMS.

    Args:
        win_stride: sliding-window step in pixels.
        padding: padding added around the image by OpenCV.
        scale: image pyramid factor between levels.
        upscale: resize factor applied first (the detection window is 64×128, so people shorter
            than ~128 px are only found when the frame is upscaled).
        min_score: SVM margin below which detections are dropped.
        nms_iou: IoU above which overlapping detections are suppressed.
    """

    name = "hog"

    def __init__(
        self,
        win_stride: tuple[int, int] = (8, 8),
        padding: tuple[int, int] = (8, 8),
        scale: float = 1.05,
        upscale: float = 1.0,
        min_score: float = 0.0,
        nms_iou: float = 0.45,
    ) -> None:
        cv2 = import_cv2()
        if not hog_available():
            raise DetectorUnavailableError(
                f"the HOG people detector is not in the installed OpenCV {cv2.__version__} (OpenCV 5 moved "
                "HOGDescriptor out of the main modules); install 'opencv-python-headless<5' or use "
                "--detector motion (background subtraction, weaker)"
            )
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.win_stride, self.padding, self.scale = win_stride, padding, scale
        self.upscale, self.min_score, self.nms_iou = upscale, min_score, nms_iou

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        _check_frame(frame_bgr)
        cv2 = import_cv2()
        image = frame_bgr
        if self.upscale != 1.0:
            image = cv2.resize(
                frame_bgr, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_LINEAR
            )
        rects, weights = self._hog.detectMultiScale(
            image, winStride=self.win_stride, padding=self.padding, scale=self.scale
        )
        if len(rects) == 0:
            return np.zeros((0, 5))
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / self.upscale
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        boxes = np.column_stack(
            [rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3], scores]
        )
        boxes = boxes[scores >= self.min_score]
        return boxes[nms(boxes, boxes[:, 4], self.nms_iou)]


class MotionDetector:
    """Moving-blob detector: MOG2 background subtraction + morphology + components (weaker fallback).

    The background is initialised with the per-pixel median of the first ``warmup`` frames (people
    walk on, so the median is the empty street), those frames return no detections. After that
    the MOG2 model (Zivkovic 2004) adapts with a fixed ``learning_rate``, slow enough that a person
    crossing a pixel for a few frames is not absorbed into the background.

    Args:
        warmup: frames used to build the initial background (no detections returned for them).
        learning_rate: MOG2 update rate after warm-up (about 1 / frames a scene change takes to be
            accepted as background).
        var_threshold: MOG2 squared Mahalanobis distance for "foreground".
        min_area: smallest blob area in pixels.
        kernel: size of the morphological opening/closing kernel.
        nms_iou: IoU above which overlapping blobs are suppressed.

    The score of a blob is the foreground fraction of its bounding box.
    """

    name = "motion"

    def __init__(
        self,
        warmup: int = 20,
        learning_rate: float = 0.005,
        var_threshold: float = 16.0,
        min_area: int = 400,
        kernel: int = 5,
        nms_iou: float = 0.5,
    ) -> None:
        import_cv2()
        if warmup < 1:
            raise ValueError(f"warmup must be >= 1 frame, got {warmup}")
        self.warmup, self.learning_rate, self.var_threshold = warmup, learning_rate, var_threshold
        self.min_area, self.kernel, self.nms_iou = min_area, kernel, nms_iou
        self.reset()

    def reset(self) -> None:
        """Forget the background model (call before a new video)."""
        cv2 = import_cv2()
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            varThreshold=self.var_threshold, detectShadows=True
        )
        self._warmup_frames: list[np.ndarray] = []
        self._ready = False

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        _check_frame(frame_bgr)
        cv2 = import_cv2()
        if not self._ready:
            self._warmup_frames.append(frame_bgr)
            if len(self._warmup_frames) < self.warmup:
                return np.zeros((0, 5))
            background = np.median(np.stack(self._warmup_frames), axis=0).astype(np.uint8)
            self._subtractor.apply(background, learningRate=1.0)
            self._warmup_frames, self._ready = [], True
            return np.zeros((0, 5))
        mask = self._subtractor.apply(frame_bgr, learningRate=self.learning_rate)
        foreground = (mask > 200).astype(np.uint8) * 255  # 127 marks shadows
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.kernel, self.kernel))
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, element)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, element, iterations=2)
        count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(foreground, connectivity=8)
        boxes = [
            [x, y, x + w, y + h, area / float(w * h)]
            for x, y, w, h, area in stats[1:count]
            if area >= self.min_area
        ]
        if not boxes:
            return np.zeros((0, 5))
        array = np.asarray(boxes, dtype=np.float64)
        return array[nms(array, array[:, 4], self.nms_iou)]


DETECTORS: dict[str, Callable[..., Detector]] = {"hog": HOGPeopleDetector, "motion": MotionDetector}


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Make ``factory`` available as ``create_detector(name)`` (and ``--detector name``)."""
    DETECTORS[name] = factory


def create_detector(name: str = "auto", **kwargs: Any) -> Detector:
    """Build a detector by name: ``hog``, ``motion``, ``auto`` (HOG if available, else motion)."""
    if name == "auto":
        name = "hog" if hog_available() else "motion"
        if name == "motion":
            logger.warning("HOG people detector unavailable in this OpenCV; using the weaker motion detector")
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r} (available: auto, {', '.join(sorted(DETECTORS))})")
    return DETECTORS[name](**kwargs)
