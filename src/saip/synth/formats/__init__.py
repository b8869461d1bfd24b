"""Writers for the on-disk layouts of real datasets (Market-1501, PA100K-style CSV, COCO, LIP, CrowdHuman)."""
