"""Random augmentation drawn in the main process, so DataLoader workers change nothing.

The training datasets of the dense tasks draw their augmentation (flip, scale, rotation, crop window)
from one ``numpy`` generator per dataset, item after item. In DataLoader workers each worker would
draw from its own copy of that generator: other draws than in the main process, and the same draws
repeated across workers. Such a dataset splits ``__getitem__(i)`` into ``draw(i)`` (only the random
choices, in the order a single process makes them) and ``load(i, draw)`` (decoding and the
deterministic rest); :class:`PresampledBatches` calls ``draw`` in the main process in batch order and
sends ``(i, draw)`` to the workers, where :class:`PresampledDataset` calls ``load``. The items are then
those of ``dataset[i]`` called in the same order in one process, for any number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any, Protocol, runtime_checkable

from torch.utils.data import Dataset


@runtime_checkable
class DrawsRandomly(Protocol):
    """A dataset whose item ``i`` is ``load(i, draw(i))``, all randomness in ``draw``."""

    def draw(self, index: int) -> Any: ...

    def load(self, index: int, draw: Any) -> Any: ...


class PresampledBatches:
    """Batches of ``(index, dataset.draw(index))``, drawn in the main process as the batches are taken."""

    def __init__(self, batches: Iterable[list[int]], dataset: DrawsRandomly) -> None:
        self.batches, self.dataset = batches, dataset

    def __iter__(self) -> Iterator[list[tuple[int, Any]]]:
        for batch in self.batches:
            yield [(int(index), self.dataset.draw(int(index))) for index in batch]

    def __len__(self) -> int:
        if not isinstance(self.batches, Sized):
            raise TypeError("the wrapped batch sampler has no length")
        return len(self.batches)


class PresampledDataset(Dataset):
    """``dataset.load(index, draw)`` for the ``(index, draw)`` keys of :class:`PresampledBatches`."""

    def __init__(self, dataset: DrawsRandomly) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, Any]) -> Any:
        index, draw = key
        return self.dataset.load(index, draw)
