"""The per-task record every evaluation writes beside its metrics: ``OUT/<task>.json``.

Fields: task, dataset, backbone, protocol, input size, budget name and settings, seed, the headline
``metrics`` (returned to the report), every score the task computed and the training losses, plus
task-specific extras (flip test, text encoder, head, ...).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from saip.evaluate.budgets import TaskBudget


def write_task_record(
    out_dir: str | Path,
    task: str,
    *,
    dataset: str,
    backbone: str,
    budget: str,
    task_budget: TaskBudget,
    input_size: Any,
    seed: int,
    metrics: dict[str, float],
    scores: dict[str, Any],
    losses: list[float],
    **extra: Any,
) -> Path:
    """Write ``out_dir/<task>.json`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task": task,
        "dataset": dataset,
        "backbone": backbone,
        "protocol": task_budget.protocol,
        "input_size": input_size,
        "budget": budget,
        "budget_settings": asdict(task_budget),
        "seed": seed,
        **extra,
        "metrics": metrics,
        "all_metrics": scores,
        "train_loss": losses,
    }
    path = out_dir / f"{task}.json"
    path.write_text(json.dumps(record, indent=2))
    return path
