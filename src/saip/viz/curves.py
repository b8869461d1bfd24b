"""Training curves from ``RUN/logs/metrics.jsonl`` (one JSON object per logged step).

Panels: the total loss and each term (``loss/csm``, ``loss/csr``, ``loss/css``, ...), the learning
rate and teacher momentum, the CSM collapse alarms (``csm/student_entropy``,
``csm/teacher_entropy`` normalised by ln K, and ``csm/teacher_std``; method.md §1 CSM), and
throughput. Steps where an alarm fires are shaded red: teacher entropy above ``uniform_alarm``
(collapse to the uniform distribution) or below ``onehot_alarm`` (one prototype dominates), or
teacher std below ``std_alarm`` (every image gets the same output).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from saip.viz.panels import DPI, save_figure  # noqa: E402

CURVES_FIGSIZE = (13.0, 7.0)


def read_metrics(path: str | Path) -> list[dict]:
    """Read a metrics.jsonl file; raises naming the file and line on malformed JSON or a missing ``step``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics file not found: {path}")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not valid JSON ({error})") from error
        if not isinstance(record, dict) or "step" not in record:
            raise ValueError(f"{path}:{number}: expected a JSON object with a 'step' field")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: no metrics logged yet")
    return records


def _series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        value = r.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            xs.append(r["step"])
            ys.append(float(value))
    return xs, ys


def alarm_steps(
    records: list[dict], uniform_alarm: float = 0.95, onehot_alarm: float = 0.02, std_alarm: float = 1e-4
) -> list[int]:
    """Steps at which a CSM collapse alarm fires (see module doc)."""
    steps = []
    for r in records:
        entropy, std = r.get("csm/teacher_entropy"), r.get("csm/teacher_std")
        if (entropy is not None and not onehot_alarm <= entropy <= uniform_alarm) or (
            std is not None and std < std_alarm
        ):
            steps.append(r["step"])
    return steps


def plot_training_curves(records: list[dict], title: str = "") -> plt.Figure:
    """A 2x3 figure of the training curves of ``records`` (see module doc); caller saves it."""
    fig, axes = plt.subplots(2, 3, figsize=CURVES_FIGSIZE, dpi=DPI)
    keys = sorted({k for r in records for k in r})
    loss_keys = ["loss"] * ("loss" in keys) + [k for k in keys if k.startswith("loss/")]
    groups = [
        ("losses", loss_keys, "log"),
        ("learning rate", ["lr"], "linear"),
        ("teacher momentum", ["momentum"], "linear"),
        ("CSM entropy / ln K", ["csm/student_entropy", "csm/teacher_entropy"], "linear"),
        ("CSM teacher std", ["csm/teacher_std"], "log"),
        ("throughput (images/s)", ["images_per_s"], "linear"),
    ]
    alarms = alarm_steps(records)
    for ax, (name, group, scale) in zip(axes.flat, groups, strict=True):
        drawn = False
        for key in group:
            xs, ys = _series(records, key)
            if xs:
                ax.plot(xs, ys, label=key, linewidth=1.2)
                drawn = True
        if drawn and scale == "log" and all(y > 0 for k in group for y in _series(records, k)[1]):
            ax.set_yscale("log")
        for step in alarms:
            ax.axvline(step, color="red", alpha=0.15, linewidth=2)
        if name.startswith("CSM entropy"):
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(name if drawn else f"{name} (not logged)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if drawn and len(group) > 1:
            ax.legend(fontsize=7)
    suffix = f" — {len(alarms)} alarm steps (red)" if alarms else ""
    fig.suptitle(f"{title}{suffix}", fontsize=10)
    fig.tight_layout()
    return fig


def save_training_curves(metrics_path: str | Path, out_png: str | Path, title: str | None = None) -> Path:
    """Read ``metrics_path`` and save its curves to ``out_png``."""
    records = read_metrics(metrics_path)
    return save_figure(plot_training_curves(records, title or str(metrics_path)), out_png)
