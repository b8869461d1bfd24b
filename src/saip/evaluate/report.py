"""The protocol report: every downstream task on one backbone, as a table laid out like the paper's.

Each task module ``saip.evaluate.<task>`` exposes ``run_task(backbone_spec, data_root, budget,
out_dir, seed, device, arch, runtime=None) -> dict[str, float]``. Modules are imported lazily: a task
whose module is missing is reported as "not available", a task that fails is reported with its error, and the
other tasks still run. Output: ``results.json`` and ``results.md`` (group | task | dataset | metric |
value, the row layout of method.md §3 / the SAIP paper's tables).
"""

from __future__ import annotations

import importlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no torch import for the CLI's help
    from saip.evaluate.runtime import EvalRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskSpec:
    """A row group of the report: the task's module, group, name and reference dataset."""

    key: str
    group: str
    name: str
    dataset: str
    headline: tuple[str, ...]


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("reid", "single-person discrimination", "person ReID", "Market-1501", ("mAP", "rank1")),
    TaskSpec("t2i", "single-person discrimination", "text-to-image ReID", "CUHK-PEDES", ("rank1", "mAP")),
    TaskSpec("attributes", "single-person discrimination", "attribute recognition", "PA100K", ("mA",)),
    TaskSpec("pose", "single-person dense", "pose estimation", "COCO keypoints", ("AP",)),
    TaskSpec("landmarks", "single-person dense", "landmark detection", "COCO-WholeBody", ("AP", "AR")),
    TaskSpec("parsing", "single-person dense", "body-part parsing", "LIP", ("mIoU",)),
    TaskSpec("detection", "multi-person", "pedestrian detection", "CrowdHuman", ("AP", "MR-2")),
    TaskSpec("mhp", "multi-person", "multi-human parsing", "CIHP", ("mIoU", "APp50", "APp_vol")),
    TaskSpec("pap", "multi-person", "part-level attribute parsing", "Fashionpedia", ("AP_iou_f1", "AP")),
)
TASK_KEYS: tuple[str, ...] = tuple(t.key for t in TASKS)
_BOOKKEEPING = ("seconds", "num_")


def _task_runner(key: str) -> Callable[..., dict[str, float]] | None:
    name = f"saip.evaluate.{key}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise
    return getattr(module, "run_task", None)


def dataset_label(spec: TaskSpec, synthetic: bool) -> str:
    """``"synthetic (Market-1501 layout)"`` for the embedded default data, else the dataset's name."""
    return f"synthetic ({spec.dataset} layout)" if synthetic else spec.dataset


def run_report(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    synthetic: bool = False,
    runtime: EvalRuntime | None = None,
) -> dict:
    """Run ``tasks`` (default: all) and write ``out_dir/results.json`` and ``out_dir/results.md``;
    ``runtime`` (loader workers, autocast, progress bars) is passed to every task.

    Returns the ``results.json`` content: ``{"backbone", "budget", "data", "tasks": {key: {"status",
    "group", "task", "dataset", "metrics", "seconds"[, "error"]}}}``.
    """
    selected = list(tasks) if tasks else list(TASK_KEYS)
    unknown = [t for t in selected if t not in TASK_KEYS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {', '.join(TASK_KEYS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "backbone": backbone_spec,
        "budget": budget,
        "data": str(data_root),
        "seed": seed,
        "tasks": {},
    }
    for spec in TASKS:
        if spec.key not in selected:
            continue
        entry: dict = {
            "group": spec.group,
            "task": spec.name,
            "dataset": dataset_label(spec, synthetic),
            "metrics": {},
        }
        runner = _task_runner(spec.key)
        start = time.perf_counter()
        if runner is None:
            entry["status"] = "not available"
        else:
            try:
                entry["metrics"] = runner(
                    backbone_spec, Path(data_root), budget, out_dir / spec.key, seed, device, arch,
                    runtime=runtime,
                )  # fmt: skip
                entry["status"] = "ok"
            except Exception as error:  # noqa: BLE001 - one failing task must not hide the others
                log.error("task %s failed:\n%s", spec.key, traceback.format_exc())
                entry["status"], entry["error"] = "failed", f"{type(error).__name__}: {error}"
        entry["seconds"] = time.perf_counter() - start
        results["tasks"][spec.key] = entry
    return write_results(out_dir, results)


def write_results(out_dir: Path, results: dict) -> dict:
    """Merge ``results`` into ``out_dir/results.json`` (tasks evaluated earlier for the same backbone
    are kept, the same task is replaced) and rewrite ``results.md`` from the merged content.

    Every ``saip eval`` command writes through here, so ``RUN/eval/results.json`` collects all the
    tasks a run was evaluated on, whichever command ran them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    merged = dict(results)
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except json.JSONDecodeError:
            earlier = {}
        if isinstance(earlier.get("tasks"), dict) and earlier.get("backbone") == results.get("backbone"):
            merged["tasks"] = {**earlier["tasks"], **results["tasks"]}
    path.write_text(json.dumps(merged, indent=2))
    (out_dir / "results.md").write_text(format_results(merged) + "\n")
    return merged


def task_entry(key: str, metrics: dict[str, float], synthetic: bool, seconds: float = 0.0) -> dict:
    """The ``results.json`` entry of one task that ran (group, task, dataset as in the paper's tables)."""
    spec = {s.key: s for s in TASKS}[key]
    return {
        "group": spec.group,
        "task": spec.name,
        "dataset": dataset_label(spec, synthetic),
        "metrics": metrics,
        "status": "ok",
        "seconds": seconds,
    }


def _ordered_metrics(spec: TaskSpec, metrics: dict[str, float]) -> list[tuple[str, float]]:
    shown = {k: v for k, v in metrics.items() if not k.startswith(_BOOKKEEPING)}
    first = [(k, shown.pop(k)) for k in spec.headline if k in shown]
    return first + list(shown.items())


def format_results(results: dict) -> str:
    """Markdown table ``group | task | dataset | metric | value`` (one row per metric)."""
    lines = [
        f"Backbone `{results['backbone']}`, budget `{results['budget']}`, data `{results['data']}`.",
        "",
        "| group | task | dataset | metric | value |",
        "|---|---|---|---|---:|",
    ]
    specs = {s.key: s for s in TASKS}
    for key, entry in results["tasks"].items():
        head = f"| {entry['group']} | {entry['task']} | {entry['dataset']} "
        if entry["status"] != "ok":
            detail = entry["status"] + (f" ({entry['error']})" if "error" in entry else "")
            lines.append(f"{head}| – | {detail.replace('|', '/')} |")
            continue
        for metric, value in _ordered_metrics(specs[key], entry["metrics"]):
            lines.append(f"{head}| {metric} | {value:.1f} |")
    total = sum(e.get("seconds", 0.0) for e in results["tasks"].values())
    lines += ["", f"Total time: {total:.0f} s."]
    return "\n".join(lines)
