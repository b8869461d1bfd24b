"""The Python API: ``saip.pretrain(...)``, ``saip.evaluate(...)``, ``saip.export(...)``.

The same operations as the ``saip`` commands, for notebooks and scripts, returning result objects
(paths and metrics) instead of printing. Overrides are dotted config keys, passed as keyword
arguments either with ``__`` for the dots or as a dict::

    import saip
    run = saip.pretrain(out="runs/demo", budget="demo", train__max_steps=100)
    run = saip.pretrain(out="runs/lup", data="/data/LUP1M", recipe="vit_tiny_paper", **{"train.epochs": 100})
    scores = saip.evaluate(backbone=run.run_dir, task="reid", budget="quick")
    onnx = saip.export(run.run_dir, format="onnx")

Errors are the library's: :class:`saip.errors.InputError` (bad input, naming the option or file),
``TrainingDiverged``/``TrainingInterrupted`` from training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saip.errors import InputError

# --budget presets -> shipped recipes; probe numbers of each in benchmarks/results/recipe-*.md
BUDGET_RECIPES = {"demo": "cpu_demo", "cpu-ssl": "cpu_ssl", "cpu-1h": "cpu_1h", "gpu-short": "gpu_short"}
DEFAULT_RECIPE = "cpu_demo"


@dataclass
class PretrainResult:
    """A finished (or resumed to the end) pretraining run."""

    run_dir: Path
    config: Any  # saip.config.RunConfig
    probe: dict | None = None  # probe.json: trained vs random init, when the probe ran

    @property
    def backbone(self) -> Path:
        """``backbone.safetensors``: the student's weights with timm's keys."""
        return self.run_dir / "backbone.safetensors"

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"


@dataclass
class EvalResult:
    """Scores of one backbone on one task (or ``all``), as written to ``results.json``."""

    backbone: str
    task: str
    budget: str
    out_dir: Path
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # task -> metric -> value
    report: dict = field(default_factory=dict)  # the whole results.json

    @property
    def results_json(self) -> Path:
        return self.out_dir / "results.json"


def _override_items(overrides: dict[str, Any]) -> list[str]:
    """``{"train__max_steps": 5, "data.views": {...}}`` -> ``["train.max_steps=5", "data.views={...}"]``."""
    items = []
    for key, value in overrides.items():
        dotted = key.replace("__", ".")
        if value is None:
            text = "null"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple | dict):
            text = json.dumps(value)  # YAML reads JSON
        else:
            text = str(value)
        items.append(f"{dotted}={text}")
    return items


def pretrain(
    out: str | Path | None = None,
    data: str | Path | None = None,
    backbone: str | None = None,
    recipe: str | None = None,
    budget: str | None = None,
    resume: bool | str = False,
    overwrite: bool = False,
    probe: bool | None = None,
    progress: bool = True,
    **overrides: Any,
) -> PretrainResult:
    """Pretrain a backbone (``saip pretrain``); see README "Python API".

    Args:
        out: run folder (default: the recipe's ``out``).
        data: folder of person images (default: the embedded synthetic persons).
        backbone: ``vit_tiny``, ``starnet_s3``, ``tiny_vit_5m`` or a timm name.
        recipe: a shipped recipe name or YAML path (default ``cpu_demo``); or ``budget``:
            ``demo``, ``cpu-ssl``, ``cpu-1h``, ``gpu-short``.
        resume: ``True`` / ``"auto"`` as ``--resume`` / ``--resume auto``.
        overwrite: replace an existing run in ``out``.
        probe: run the built-in probe at the end (default: the config's ``probe.enabled``).
        **overrides: dotted config keys (``train__max_steps=100`` or ``**{"train.max_steps": 100}``).
    """
    import yaml

    from saip.config import config_from_dict, load_config
    from saip.pretrain.loop import pretrain as run_pretraining

    if budget is not None:
        if recipe is not None:
            raise InputError("give budget or recipe, not both")
        if budget not in BUDGET_RECIPES:
            raise InputError(f"budget {budget!r}: choose from {', '.join(BUDGET_RECIPES)}")
        recipe = BUDGET_RECIPES[budget]
    items = _override_items(overrides)
    if data is not None:
        items.append(f"data.root={data}")
    if backbone is not None:
        items.append(f"model.backbone={backbone}")
    if out is not None:
        items.append(f"out={out}")
    cfg = load_config(recipe or DEFAULT_RECIPE, items)
    run_dir = run_pretraining(
        cfg,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        probe=probe,
        overrides=[item for item in items if not item.startswith("out=")],
    )
    probe_file = run_dir / "probe.json"
    used = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))  # a resumed run's own
    return PretrainResult(
        Path(run_dir), used, json.loads(probe_file.read_text()) if probe_file.is_file() else None
    )


def evaluate(
    backbone: str | Path,
    task: str = "all",
    data: str | Path | None = None,
    budget: str = "quick",
    out: str | Path | None = None,
    arch: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    workers: int | None = None,
    amp: str = "auto",
    progress: bool = True,
) -> EvalResult:
    """Evaluate a backbone (``saip eval TASK``): a run folder, a weight file (with ``arch``),
    ``random:<arch>`` or ``efficientnet_lite0_imagenet``. Without ``data``, the embedded synthetic
    data in each task's standard layout. Results go to ``out`` (default ``RUN/eval`` for a run
    folder, else ``eval-out``) as ``results.json``/``results.md``. ``workers`` (default: as
    ``--workers``), ``amp`` and ``progress`` are those of :class:`saip.evaluate.runtime.EvalRuntime`."""
    from saip.evaluate import report
    from saip.evaluate.default_data import ensure_synthetic_data
    from saip.evaluate.runtime import EvalRuntime, default_workers

    try:
        runtime = EvalRuntime(default_workers() if workers is None else workers, amp, progress)
    except ValueError as error:
        raise InputError(str(error)) from error

    tasks = None if task == "all" else [task]
    if tasks is not None and task not in report.TASK_KEYS:
        raise InputError(f"task {task!r}: choose from {', '.join(report.TASK_KEYS)} or all")
    spec = str(backbone)
    if out is None:
        out = Path(spec) / "eval" if Path(spec).is_dir() else Path("eval-out")
    root = ensure_synthetic_data(Path(data) if data is not None else None, seed=seed)
    results = report.run_report(
        spec,
        root,
        budget,
        Path(out),
        tasks=tasks,
        seed=seed,
        device=device,
        arch=arch,
        synthetic=data is None,
        runtime=runtime,
    )
    entries = results["tasks"]
    metrics = {key: entry["metrics"] for key, entry in entries.items() if entry["status"] == "ok"}
    if tasks is not None and task not in metrics:
        raise InputError(f"eval {task}: {entries[task].get('error', entries[task]['status'])}")
    return EvalResult(spec, task, budget, Path(out), metrics, results)


def export(
    run: str | Path,
    format: str = "timm",  # noqa: A002 - the CLI's --format
    out: str | Path | None = None,
    arch: str | None = None,
    img_size: str | tuple[int, int] | None = None,
    opset: int = 18,
    int8: bool = False,
    fp16: bool = False,
):  # noqa: ANN201 - saip.export.run.ExportResult (imported lazily)
    """Export a backbone (``saip export``) and verify it; returns the files and the verification."""
    from saip.export.run import export_backbone

    return export_backbone(str(run), format, out, arch, img_size, opset, int8=int8, fp16=fp16)
