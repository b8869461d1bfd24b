"""How an evaluation runs, shared by every ``saip eval`` task: DataLoader workers, AMP, progress bars.

None of these choices changes what is computed on the CPU by default:

* ``workers``: images are decoded in that many DataLoader worker processes (0 = in the main process).
  Evaluation datasets are deterministic per item; the dense tasks' training sets draw their random
  augmentation in the main process (:mod:`saip.evaluate.datasets.presampled`), so any number of
  workers gives the same batches as 0.
* ``amp``: ``auto`` = bf16 autocast on CUDA and none on the CPU; ``bf16`` = bf16 autocast on any
  device; ``off`` = float32 everywhere. Used for feature extraction and head training (the forward
  passes and losses; the optimiser steps stay float32, bf16 needs no gradient scaler).
* ``progress``: tqdm bars for feature extraction and head training, on stderr, shown only when
  stderr is a terminal (stdout keeps the parseable results); ``TQDM_DISABLE=1`` hides them too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

from saip.evaluate.datasets.presampled import DrawsRandomly, PresampledBatches, PresampledDataset

AMP_MODES: tuple[str, ...] = ("auto", "native", "bf16", "off")  # saip.pretrain.precision
T = TypeVar("T")


def default_workers() -> int:
    """The ``--workers`` default: half the CPU cores, at most 4 (the other half runs the model)."""
    return min(4, (os.cpu_count() or 1) // 2)


@dataclass(frozen=True)
class EvalRuntime:
    """Loader workers, autocast mode and progress bars of an evaluation (see the module docstring)."""

    workers: int = 0
    amp: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"--workers must be >= 0, got {self.workers}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"--amp {self.amp!r}: choose from {', '.join(AMP_MODES)}")

    def loader(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        sampler: Sampler | None = None,
        batch_sampler: Iterable[list[int]] | None = None,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> DataLoader:
        """A DataLoader over ``dataset`` in order (or by ``sampler`` / ``batch_sampler``) with this
        runtime's workers, pinned memory on CUDA and, for a :class:`DrawsRandomly` dataset, its
        random draws made in this process."""
        if batch_sampler is None:  # what DataLoader(batch_size=..., sampler=...) builds itself
            batch_sampler = BatchSampler(sampler or SequentialSampler(dataset), batch_size, drop_last)
        if isinstance(dataset, DrawsRandomly):
            dataset, batch_sampler = PresampledDataset(dataset), PresampledBatches(batch_sampler, dataset)
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            collate_fn=collate_fn,
            pin_memory=torch.device(device).type == "cuda",
            num_workers=self.workers,
            persistent_workers=False,  # each pass draws its loader seed from the global RNG, as 0 workers do
        )

    def autocast(self, device: str | torch.device) -> contextlib.AbstractContextManager:
        """bf16 autocast per ``amp`` on ``device`` (a no-op context on the CPU under ``auto``)."""
        from saip.pretrain.precision import autocast_context

        return autocast_context(self.amp, torch.device(device))

    def bar(
        self, iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "batch"
    ) -> Iterator[T]:
        """``iterable`` with a tqdm bar on stderr when it is a terminal, ``progress`` is on and
        ``TQDM_DISABLE`` is unset (or 0)."""
        from tqdm import tqdm

        hidden = os.environ.get("TQDM_DISABLE", "").lower() not in ("", "0", "false")
        shown = self.progress and not hidden and sys.stderr.isatty()
        bar = tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            disable=not shown,
        )
        return iter(bar)


def resolve_runtime(runtime: EvalRuntime | None) -> EvalRuntime:
    """``runtime``, or the library default (no workers, ``amp=auto``, bars on a terminal)."""
    return runtime if runtime is not None else EvalRuntime()
