"""The `saip pretrain --budget` presets load, and cpu-ssl is SAIP proper (no pretrained weights)."""

from __future__ import annotations

from saip.api import BUDGET_RECIPES
from saip.cli.pretrain_cmd import BUDGETS
from saip.config import load_config


def test_every_budget_loads_and_cli_and_api_agree() -> None:
    assert BUDGETS is BUDGET_RECIPES
    for recipe in BUDGET_RECIPES.values():
        load_config(recipe, [])


def test_cpu_ssl_is_saip_with_an_ema_expert_and_all_three_objectives() -> None:
    cfg = load_config(BUDGET_RECIPES["cpu-ssl"], [])
    assert cfg.method == "saip" and cfg.expert.kind == "ema" and cfg.expert.teacher is None
    assert cfg.model.weights is None  # from scratch: nothing pretrained anywhere
    o = cfg.objectives
    assert min(o.csm_weight, o.csr_weight, o.css_weight) > 0
    # the probe scores at the backbone's input size, capped at 128x64: the recipe trains at that size
    assert list(cfg.model.img_size) == [128, 64] == list(cfg.data.views["global_size"])
