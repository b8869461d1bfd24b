"""Run logs: one JSON object per logged step (``logs/metrics.jsonl``) and TensorBoard scalars."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _json_value(value):
    """Floats rounded to 6 decimals; NaN/inf as ``null`` (JSON has no NaN: strict readers reject it)."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


class MetricsLogger:
    """Appends scalars to ``RUN/logs/metrics.jsonl`` and a TensorBoard event file (main rank only).

    On resume, lines with a step beyond the resumed step are dropped so the log matches the state
    (and TensorBoard purges its events past that step). Every line is strict JSON (NaN -> null).
    """

    def __init__(self, run_dir: Path, enabled: bool = True, resume_step: int | None = None) -> None:
        self.enabled = enabled
        self.path = run_dir / "logs" / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))
        try:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: TensorBoard hides the events past the resumed step, so no step shows twice
            purge = None if resume_step is None else resume_step + 1
            self._tb = SummaryWriter(log_dir=str(run_dir / "logs"), purge_step=purge)
        except ImportError:  # tensorboard is a declared dependency; keep JSONL logging regardless
            self._tb = None

    def log(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **{k: _json_value(v) for k, v in scalars.items()}}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, allow_nan=False) + "\n")
        if self._tb is not None:
            for key, value in scalars.items():
                if isinstance(value, int | float):
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
