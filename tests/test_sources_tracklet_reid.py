"""Video tracklets -> Market-1501 probe set: names, splits, and the ReID loader reading it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from saip.cli import app
from saip.evaluate.datasets.market import load_reid_dataset, parse_market_name
from saip.sources.tracklet_reid import tracklets_to_market


def _tracklets(root: Path, lengths: list[int]) -> Path:
    for t, n in enumerate(lengths):
        folder = root / f"walk_t{t:05d}"
        folder.mkdir(parents=True)
        for f in range(n):
            Image.fromarray(np.full((32, 16, 3), 10 * t, np.uint8)).save(folder / f"{f * 2:06d}.jpg")
    return root


def test_tracklets_become_identities_split_in_time(tmp_path):
    crops = _tracklets(tmp_path / "crops", [8, 6, 3, 10])
    counts = tracklets_to_market(crops, tmp_path / "reid", min_crops=6)
    assert counts == {"tracklets": 4, "identities": 3, "query": 3, "gallery": 4 + 3 + 5, "too_short": 1}
    data = load_reid_dataset(tmp_path / "reid")
    assert len(data.train) == 0 and len(data.query) == 3 and len(data.gallery) == 12
    assert set(data.query.camids.tolist()) == {1} and set(data.gallery.camids.tolist()) == {2}
    assert set(data.query.pids.tolist()) == set(data.gallery.pids.tolist()) == {1, 2, 3}
    # the query of identity 1 (8 crops: frames 0..14) is the middle of the first half: frame 4
    assert sorted(p.name for p in (tmp_path / "reid" / "query").iterdir())[0] == "0001_c1s1_000004_00.jpg"
    assert all(parse_market_name(p.name)[1] == 2 for p in (tmp_path / "reid" / "bounding_box_test").iterdir())


def test_too_few_tracklets_is_a_clear_error(tmp_path):
    crops = _tracklets(tmp_path / "crops", [8, 3])
    with pytest.raises(ValueError, match="only 1 tracklet"):
        tracklets_to_market(crops, tmp_path / "reid")
    result = CliRunner().invoke(
        app, ["data", "tracklets-to-reid", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "no tracklet folders" in result.output
