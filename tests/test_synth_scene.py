"""Multi-person scenes: boxes, instance masks, part masks and keypoints agree."""

from __future__ import annotations

import numpy as np

from saip.synth.dataset import SyntheticSceneDataset
from saip.synth.scene import render_scene


def test_scene_labels_consistent() -> None:
    for index in range(6):
        s = render_scene(0, index, size=(256, 320), max_persons=6)
        n = len(s.pids)
        assert n >= 1
        masks = s.masks
        assert masks.shape == (n, 256, 320)
        assert masks.sum(0).max() <= 1  # instance masks do not overlap
        assert np.array_equal(s.parts > 0, s.instances > 0)  # parts only on persons
        for j in range(n):
            ys, xs = np.nonzero(masks[j])
            assert len(xs) > 0
            x0, y0, x1, y1 = s.boxes[j]
            assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
            fx0, fy0, fx1, fy1 = s.full_boxes[j]
            assert fx0 <= x0 and fy0 <= y0 and fx1 >= x1 and fy1 >= y1
            kp = s.keypoints[j]
            for x, y, v in kp:
                if v == 2:
                    assert s.instances[int(y), int(x)] == j + 1
                if v == 0:
                    assert x == 0 and y == 0


def test_scene_dataset_deterministic() -> None:
    a = SyntheticSceneDataset(scenes=2, seed=5, size=(192, 256))
    b = SyntheticSceneDataset(scenes=2, seed=5, size=(192, 256))
    assert a[1]["image"].tobytes() == b[1]["image"].tobytes()
    assert np.array_equal(a[1]["instances"], b[1]["instances"])
    c = SyntheticSceneDataset(scenes=2, seed=6, size=(192, 256))
    assert a[1]["image"].tobytes() != c[1]["image"].tobytes()
    assert set(SyntheticSceneDataset(scenes=1, labels=False)[0]) == {"image", "camid"}
