"""Task heads that sit on a backbone's stride-16 patch grid (pose, part segmentation, detection)."""

from saip.evaluate.heads.dense_detector import CenterNetHead
from saip.evaluate.heads.heatmap import HeatmapHead
from saip.evaluate.heads.segmentation import SegmentationHead

__all__ = ["CenterNetHead", "HeatmapHead", "SegmentationHead"]
