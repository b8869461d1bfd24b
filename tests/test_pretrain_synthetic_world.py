"""The embedded synthetic pretraining world follows the data.synthetic_* options."""

from __future__ import annotations

import pytest

from saip.config import ConfigError, load_config
from saip.pretrain.builder import build_source
from saip.synth.person_image import camera_of


def test_synthetic_cameras_reach_the_pretraining_source() -> None:
    cfg = load_config(
        None,
        [
            "data.synthetic_identities=5",
            "data.synthetic_images_per_id=3",
            "data.synthetic_cameras=1000",
            "data.views.global_size=[64,32]",
        ],
    )
    source = build_source(cfg)
    assert len(source) == 15
    camids = {source[i]["camid"] for i in range(len(source))}
    # (pid + frame) % 1000 for pid < 5, frame < 3: 7 distinct capture domains, not the default 6
    assert camids == {camera_of(p, f, 1000) for p in range(5) for f in range(3)} == set(range(7))
    default = build_source(
        load_config(None, ["data.synthetic_identities=5", "data.views.global_size=[64,32]"])
    )
    assert {default[i]["camid"] for i in range(len(default))} <= set(range(6))


@pytest.mark.parametrize("key", ["synthetic_identities", "synthetic_images_per_id", "synthetic_cameras"])
def test_synthetic_world_sizes_are_validated(key: str) -> None:
    with pytest.raises(ConfigError, match=f"data.{key}"):
        load_config(None, [f"data.{key}=0"])
