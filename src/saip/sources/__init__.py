"""Real data in: person crops from annotated boxes or video, and tar shards for streaming.

- :mod:`saip.sources.boxes`: read COCO / CrowdHuman odgt / CSV person boxes;
  :mod:`saip.sources.formats`: AI Challenger, CIHP, MHPv2, Fashionpedia, Human-Art, format detection.
- :mod:`saip.sources.person_set`, :mod:`saip.sources.dedup`: pool several datasets into one
  deduplicated crop set with one manifest (SAIP's HP1M), optionally as shards.
- :mod:`saip.sources.crops`: filter boxes and cut them into a LUPerson-style crop folder.
- :mod:`saip.sources.detectors`, :mod:`saip.sources.tracking`, :mod:`saip.sources.video`:
  detect people in video frames, track them, write tracklet crops (pseudo-identities).
- :mod:`saip.sources.shards`: writes WebDataset tar shards (read back by :mod:`saip.data.shard_source`).
"""

from saip.sources.boxes import BoxSource, PersonBox, read_boxes
from saip.sources.crops import CropFilter, CropReport, crop_instances
from saip.sources.dedup import deduplicate
from saip.sources.detectors import Detector, HOGPeopleDetector, MotionDetector, create_detector, hog_available
from saip.sources.formats import read_person_boxes
from saip.sources.person_set import PersonSetReport, PersonSource, build_person_set, load_source
from saip.sources.shards import write_shards
from saip.sources.tracking import IoUTracker, Track
from saip.sources.video import VideoCropConfig, extract_video_crops

__all__ = [
    "BoxSource",
    "CropFilter",
    "CropReport",
    "Detector",
    "HOGPeopleDetector",
    "IoUTracker",
    "MotionDetector",
    "PersonBox",
    "PersonSetReport",
    "PersonSource",
    "Track",
    "VideoCropConfig",
    "build_person_set",
    "create_detector",
    "crop_instances",
    "deduplicate",
    "extract_video_crops",
    "hog_available",
    "load_source",
    "read_boxes",
    "read_person_boxes",
    "write_shards",
]
