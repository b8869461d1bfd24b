"""``saip eval all`` runs the text-to-image and landmark tasks and lays them out as the paper's tables."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

import saip.cli
from saip.evaluate.budgets import BUDGETS
from saip.synth.writer import write_synthetic_dataset


def test_eval_all_reports_t2i_and_landmarks_rows(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    write_synthetic_dataset(data, identities=4, images_per_id=3, seed=1, scenes=0, tasks=("t2i", "landmarks"))
    quick = BUDGETS["quick"]
    monkeypatch.setitem(quick, "t2i", replace(quick["t2i"], steps=2, batch_size=8))
    monkeypatch.setitem(
        quick, "landmarks", replace(quick["landmarks"], steps=2, batch_size=4, img_size=(64, 48))
    )
    out = tmp_path / "out"
    args = ["eval", "all", "--backbone", "random:vit_tiny", "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(saip.cli.app, [*args, "--tasks", "t2i,landmarks"])
    assert result.exit_code == 0, result.output
    tasks = json.loads((out / "results.json").read_text())["tasks"]
    assert {k: v["status"] for k, v in tasks.items()} == {"t2i": "ok", "landmarks": "ok"}
    md = (out / "results.md").read_text()
    assert "| single-person discrimination | text-to-image ReID | CUHK-PEDES | rank1 |" in md
    assert "| single-person discrimination | text-to-image ReID | CUHK-PEDES | mINP |" in md
    assert "| single-person dense | landmark detection | COCO-WholeBody | AP |" in md
    assert "| single-person dense | landmark detection | COCO-WholeBody | hand_AP |" in md
    assert md.index("text-to-image ReID") < md.index("landmark detection")  # the paper's row order
