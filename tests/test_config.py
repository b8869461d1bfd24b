"""Recipes, dotted overrides and clear errors for bad keys/values."""

from __future__ import annotations

import pytest

from saip.config import ConfigError, list_recipes, load_config


def test_every_shipped_recipe_loads():
    names = list_recipes()
    assert {"cpu_demo", "vit_tiny_paper", "starnet_s3_paper", "tiny_vit_5m_paper", "dino", "mae"} <= set(
        names
    )
    for name in names:
        load_config(name)


def test_paper_recipe_values():
    cfg = load_config("vit_tiny_paper")
    assert cfg.train.epochs == 300 and cfg.train.batch_size * 8 == 2048
    assert cfg.model.img_size == [256, 128] and cfg.train.base_lr == pytest.approx(2.5e-4)
    assert load_config("starnet_s3_paper").model.backbone == "starnet_s3"
    dino = load_config("dino")
    assert (dino.objectives.csm_weight, dino.objectives.csr_weight, dino.objectives.css_weight) == (1, 0, 0)


def test_dotted_overrides():
    cfg = load_config("cpu_demo", ["train.max_steps=7", "objectives.css_weight=0", "data.views.n_local=4"])
    assert cfg.train.max_steps == 7 and cfg.objectives.css_weight == 0 and cfg.data.views["n_local"] == 4
    cfg = load_config("cpu_demo", ["train.compile=true", "train.compile_mode=reduce-overhead"])
    assert cfg.train.compile and cfg.train.compile_mode == "reduce-overhead"  # CUDA graphs


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("train.epoch=3", "train.epoch"),
        ("train.batch_size=many", "train.batch_size"),
        ("train.batch_size=0", "train.batch_size"),
        ("method=mystery", "method"),
        ("data.views.n_locals=3", "n_locals"),
        ("data.views.global_size=[250,128]", "global_size"),
        ("objectives.csm_weight=-1", "objectives.csm_weight"),
        ("expert.teacher=null", "expert.teacher"),
        ("no_equals_sign", "key.sub=value"),
        ("train.compile_mode=fast", "train.compile_mode"),
    ],
)
def test_bad_overrides_name_the_key(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config("cpu_demo", [override])


def test_unknown_recipe_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_config("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(str(bad))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_config(str(unknown))
