"""The embedded synthetic pretraining world follows the data.synthetic_* options."""

from __future__ import annotations

import numpy as np
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


def _world(*extra: str):
    return load_config(
        None,
        [
            "data.synthetic_identities=3",
            "data.synthetic_images_per_id=4",
            "data.views.global_size=[64,32]",
            *extra,
        ],
    )


@pytest.mark.parametrize("processes", [1, 2])
def test_prerendered_persons_equal_the_on_demand_ones(processes: int) -> None:
    from saip.synth.prerendered import PrerenderedPersons

    source = build_source(_world())
    held = PrerenderedPersons(source, processes=processes)
    assert len(held) == len(source) == 12
    for i in range(len(source)):
        on_demand, kept = source[i], held[i]
        assert (kept["pid"], kept["camid"]) == (on_demand["pid"], on_demand["camid"])
        assert np.array_equal(np.asarray(kept["image"]), np.asarray(on_demand["image"]))


@pytest.mark.parametrize(
    ("overrides", "prerendered"),
    [
        (["train.max_steps=2", "train.batch_size=4"], False),  # 8 samples of 12: no image drawn twice
        (["train.max_steps=4", "train.batch_size=4"], True),  # 16 samples of 12: past one epoch
        (["train.max_steps=null", "train.epochs=1"], False),
        (["train.max_steps=null", "train.epochs=2"], True),
    ],
)
def test_persons_are_prerendered_only_when_revisited(overrides: list[str], prerendered: bool) -> None:
    from saip.pretrain.builder import prerender_if_revisited
    from saip.synth.prerendered import PrerenderedPersons

    cfg = _world(*overrides)
    source = prerender_if_revisited(build_source(cfg), cfg)
    assert isinstance(source, PrerenderedPersons) is prerendered
