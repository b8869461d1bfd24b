"""The Python API (``saip.pretrain``, ``saip.evaluate``, ``saip.export``): what a notebook user calls.

Runs the README example on tiny shapes and checks the returned objects point at real files and
carry the metrics that were written, and that ``import saip`` stays free of torch.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import saip
from saip.api import _override_items
from saip.errors import InputError
from tests.pretrain_helpers import TINY_OVERRIDES, write_images
from tests.test_eval_report import _tiny_root

TINY = dict(item.split("=", 1) for item in TINY_OVERRIDES)


def test_import_saip_and_the_cli_do_not_import_torch():
    """``saip --help`` stays fast (0.2 s instead of 5 s): neither the package nor the command tree
    imports torch, numpy or PIL until a command runs."""
    code = (
        "import sys, saip, saip.cli; from saip.cli import app; "
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'timm') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_override_items_from_keyword_arguments():
    items = _override_items(
        {"train__max_steps": 5, "data.views": {"n_local": 0}, "model.weights": None, "train.compile": True}
    )
    assert items == [
        "train.max_steps=5",
        'data.views={"n_local": 0}',
        "model.weights=null",
        "train.compile=true",
    ]


def test_pretrain_evaluate_export_from_python(tmp_path):
    images = write_images(tmp_path / "images")
    run = saip.pretrain(
        out=tmp_path / "run", data=images, recipe=None, probe=False, progress=False,
        **TINY, **{"train.max_steps": 2},
    )  # fmt: skip
    assert run.run_dir == tmp_path / "run" and run.backbone.is_file() and run.checkpoint.is_file()
    assert run.config.train.max_steps == 2 and run.config.data.root == str(images) and run.probe is None
    again = saip.pretrain(out=tmp_path / "run", resume=True, progress=False, probe=False, train__max_steps=3)
    assert again.config.train.max_steps == 3

    scores = saip.evaluate(backbone=run.run_dir, task="reid", data=_tiny_root(tmp_path / "data"))
    assert scores.out_dir == run.run_dir / "eval"
    written = json.loads(scores.results_json.read_text())
    assert scores.metrics["reid"] == written["tasks"]["reid"]["metrics"] and "mAP" in scores.metrics["reid"]

    exported = saip.export(run.run_dir, format="torchscript")
    assert exported.ok and all(path.is_file() for path in exported.files)
    assert exported.files[0].parent == run.run_dir / "export" / "torchscript"


def test_api_errors_name_the_argument(tmp_path):
    with pytest.raises(InputError, match="budget 'huge'"):
        saip.pretrain(out=tmp_path / "r", budget="huge")
    with pytest.raises(InputError, match="task 'juggling'"):
        saip.evaluate(backbone="random:vit_tiny", task="juggling")
