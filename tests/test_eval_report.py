"""Protocol report: runs the tasks, marks missing/failed ones, writes results.json + results.md; budgets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.evaluate import report
from saip.evaluate.budgets import BUDGETS, get_budget
from saip.evaluate.default_data import LAYOUT_VERSION, ensure_synthetic_data


def _tiny_root(root: Path) -> Path:
    """Data root with a 4-identity Market folder under reid/ and a 16-row attribute table."""
    rng = np.random.default_rng(0)
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        (root / "reid" / folder).mkdir(parents=True)
        for p in range(1, 5):
            for k in range(2):
                pixels = np.clip(np.array([60 * p, 200 - 40 * p, 90]) + rng.normal(0, 8, (32, 16, 3)), 0, 255)
                cam = k + 1 + (folder == "bounding_box_test")
                Image.fromarray(pixels.astype(np.uint8)).save(
                    root / "reid" / folder / f"{p:04d}_c{cam}s1_{k:06d}_00.jpg"
                )
    (root / "attributes" / "images").mkdir(parents=True)
    rows = ["image,split,red"]
    for i in range(16):
        Image.new("RGB", (16, 32), (200, 20, 20) if i % 2 else (20, 20, 200)).save(
            root / "attributes" / "images" / f"{i}.jpg"
        )
        rows.append(f"{i}.jpg,{'train' if i < 8 else 'test'},{i % 2}")
    (root / "attributes" / "attributes.csv").write_text("\n".join(rows) + "\n")
    return root


def test_report_runs_tasks_and_marks_missing(tmp_path, monkeypatch):
    real_runner = report._task_runner

    def runner(key):
        if key == "pose":
            return None  # module absent

        if key == "parsing":

            def broken(*args, **kwargs):
                raise RuntimeError("boom")

            return broken
        return real_runner(key)

    monkeypatch.setattr(report, "_task_runner", runner)
    results = report.run_report(
        "random:vit_tiny",
        _tiny_root(tmp_path / "data"),
        "quick",
        tmp_path / "out",
        tasks=["reid", "attributes", "pose", "parsing"],
    )
    tasks = results["tasks"]
    assert tasks["reid"]["status"] == "ok" and tasks["reid"]["metrics"]["mAP"] > 0
    assert tasks["attributes"]["status"] == "ok" and "mA" in tasks["attributes"]["metrics"]
    assert tasks["pose"]["status"] == "not available"
    assert tasks["parsing"]["status"] == "failed" and "boom" in tasks["parsing"]["error"]
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| single-person discrimination | person ReID | Market-1501 | mAP |" in md
    assert "not available" in md and "failed" in md
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["reid"]["status"] == "ok"
    assert (tmp_path / "out" / "reid" / "reid.json").is_file()


def test_report_rejects_unknown_task(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        report.run_report("random:vit_tiny", tmp_path, "quick", tmp_path / "out", tasks=["juggling"])


def test_cli_eval_all_on_one_task(tmp_path):
    root = _tiny_root(tmp_path / "data")
    result = CliRunner().invoke(
        saip.cli.app,
        [
            "eval",
            "all",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(root),
            "--tasks",
            "reid",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "person ReID" in result.output
    assert set(json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]) == {"reid"}
    bad = CliRunner().invoke(
        saip.cli.app, ["eval", "all", "--backbone", "random:vit_tiny", "--tasks", "juggling"]
    )
    assert bad.exit_code != 0 and "--tasks" in bad.output


def test_budgets_cover_every_task_and_validate():
    for preset in BUDGETS.values():
        assert set(preset) == set(report.TASK_KEYS)
    quick = get_budget("quick", "reid")
    assert quick.protocol == "knn" and get_budget("quick", "reid", "finetune").protocol == "finetune"
    paper = get_budget("paper", "reid")
    assert paper.total_steps(12936) == int(np.ceil(120 * 12936 / 64))
    assert paper.lr_at(0, 100) < paper.lr and paper.lr_at(99, 100) < 1e-2 * paper.lr
    with pytest.raises(ValueError, match="unknown budget"):
        get_budget("huge", "reid")


def test_ensure_synthetic_data_uses_given_root_and_caches(tmp_path, monkeypatch):
    assert ensure_synthetic_data(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        ensure_synthetic_data(tmp_path / "missing")
    monkeypatch.setenv("SAIP_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_write(out, preset, seed):
        calls.append((preset, seed))
        (out / "meta.json").write_text("{}")

    monkeypatch.setattr("saip.evaluate.default_data.write_synthetic", fake_write)
    first = ensure_synthetic_data(preset="tiny", seed=3)
    assert first == tmp_path / "cache" / f"synth-{LAYOUT_VERSION}-tiny-3" and (first / "meta.json").is_file()
    assert ensure_synthetic_data(preset="tiny", seed=3) == first and calls == [("tiny", 3)]
    # No temporary folders are left behind.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"synth-{LAYOUT_VERSION}-tiny-3"]


def test_single_task_commands_merge_into_the_run_folder_by_default(tmp_path):
    """Issue 17 §4: without --out, results go to RUN/eval (never a shared ./eval-out), and every task
    command merges into the same results.json / results.md as `eval all`."""
    from tests.pretrain_helpers import write_run

    run = write_run(tmp_path / "run")
    root = _tiny_root(tmp_path / "data")
    for task in ("reid", "attributes"):
        result = CliRunner().invoke(
            saip.cli.app, ["eval", task, "--backbone", str(run), "--data", str(root), "--device", "auto"]
        )
        assert result.exit_code == 0, result.output
    merged = json.loads((run / "eval" / "results.json").read_text())
    assert merged["backbone"] == str(run) and set(merged["tasks"]) == {"reid", "attributes"}
    assert (
        merged["tasks"]["reid"]["group"] == "single-person discrimination"
        and "mAP" in merged["tasks"]["reid"]["metrics"]
    )
    table = (run / "eval" / "results.md").read_text()
    assert "person ReID" in table and "attribute recognition" in table
    assert (run / "eval" / "reid").is_dir()
