"""Multiple human parsing: grouping targets by hand, decode of perfect outputs, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from saip.evaluate.heads.dense_detector import centernet_targets
from saip.evaluate.heads.instance_parsing import (
    OFFSET_UNIT,
    group_persons,
    grouping_targets,
    mhp_loss,
    person_boxes,
)
from saip.evaluate.metrics.instance_parsing import ImagePersons, parsing_ap_summary, split_persons
from saip.evaluate.metrics.segmentation import confusion_matrix, segmentation_scores
from saip.synth.writer import write_synthetic_dataset


def test_grouping_targets_by_hand() -> None:
    # 8×8: person 1 fills columns 0–3 (box centre (2, 4)), person 2 the bottom-right 4×4 (centre (6, 6)).
    human = torch.zeros(1, 8, 8, dtype=torch.int64)
    human[0, :, :4] = 1
    human[0, 4:, 4:] = 2
    assert person_boxes(human)[0].tolist() == [[0.0, 0.0, 4.0, 8.0], [4.0, 4.0, 8.0, 8.0]]
    target, mask = grouping_targets(human)
    # Stride-4 cells, centres at pixels (2, 2), (6, 2), (2, 6), (6, 6) (x, y).
    assert mask[0].tolist() == [[True, False], [True, True]]
    assert target[0, :, 0, 0].tolist() == pytest.approx([0.0, 2 / OFFSET_UNIT])
    assert target[0, :, 1, 0].tolist() == pytest.approx([0.0, -2 / OFFSET_UNIT])
    assert target[0, :, 1, 1].tolist() == pytest.approx([0.0, 0.0])


def _scene() -> tuple[torch.Tensor, torch.Tensor]:
    """A 32×48 image with two separated persons (classes 2 above 9 and 13 above 5)."""
    category = torch.zeros(1, 32, 48, dtype=torch.int64)
    human = torch.zeros(1, 32, 48, dtype=torch.int64)
    category[0, 4:14, 4:16], category[0, 14:30, 4:16] = 2, 9
    category[0, 2:12, 30:44], category[0, 12:28, 30:44] = 13, 5
    human[0, 2:30, 4:16], human[0, 2:28, 30:44] = 1, 2
    human[0, 2:4, 4:16] = 0
    return category, human


def _perfect_outputs(category: torch.Tensor, human: torch.Tensor) -> dict[str, torch.Tensor]:
    h, w = category.shape[-2:]
    centers = centernet_targets(person_boxes(human), (h // 4, w // 4))
    heat = centers["heatmap"].clamp(1e-4, 1 - 1e-4)
    grouping, _ = grouping_targets(human)
    return {
        "parts": F.one_hot(category, 20).permute(0, 3, 1, 2).float() * 10.0,
        "heatmap": torch.log(heat / (1 - heat)),
        "size": centers["size"],
        "offset": centers["offset"],
        "grouping": grouping,
    }


def test_perfect_outputs_decode_to_ground_truth() -> None:
    category, human = _scene()
    outputs = _perfect_outputs(category, human)
    [(semantic, persons, scores)] = group_persons(outputs)
    assert len(persons) == 2 and all(s > 0.9 for s in scores)
    gt = split_persons(category[0].numpy(), human[0].numpy())
    assert parsing_ap_summary([ImagePersons(gt, persons, scores)], 20) == {"APp50": 1.0, "APp_vol": 1.0}
    hist = confusion_matrix(torch.from_numpy(semantic), category[0], 20)
    assert segmentation_scores(hist)["mIoU"] == 1.0
    zeros = {k: torch.zeros_like(v) for k, v in outputs.items()}
    assert mhp_loss(outputs, category, human) < mhp_loss(zeros, category, human)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mhp")
    write_synthetic_dataset(
        out, identities=2, images_per_id=1, scenes=5, scene_size=(96, 128), tasks=("mhp",)
    )
    return out


def test_cli_end_to_end(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from saip.cli import app
    from saip.evaluate import budgets

    tiny = budgets.TaskBudget("finetune", (96, 128), steps=2, batch_size=2, lr=1e-3)
    monkeypatch.setitem(budgets.BUDGETS["quick"], "mhp", tiny)
    out = tmp_path / "out"
    args = ["eval", "mhp", "--backbone", "random:vit_tiny", "--data", str(data_root), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["tasks"]["mhp"]["metrics"]
    assert {"mIoU", "APp50", "APp_vol"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 100.0 for k in ("mIoU", "APp50", "APp_vol"))
    record = json.loads((out / "mhp" / "mhp.json").read_text())
    assert len(record["train_loss"]) == 2 and record["protocol"] == "finetune"
    # Bad input: a folder without the CIHP layout, then a missing id list; one line, exit code 2.
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = CliRunner().invoke(app, ["eval", "mhp", "--backbone", "random:vit_tiny", "--data", str(empty)])
    assert bad.exit_code == 2 and "not a CIHP layout" in bad.output
    (data_root / "mhp" / "Validation" / "val_id.txt").rename(tmp_path / "val_id.txt")
    try:
        bad = CliRunner().invoke(
            app, ["eval", "mhp", "--backbone", "random:vit_tiny", "--data", str(data_root)]
        )
        assert bad.exit_code == 2 and "val_id.txt" in bad.output
    finally:
        (tmp_path / "val_id.txt").rename(data_root / "mhp" / "Validation" / "val_id.txt")
