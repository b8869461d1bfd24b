"""The synthetic pretraining persons rendered once, held in memory as one uint8 array.

:class:`~saip.synth.dataset.SyntheticPersonDataset` draws every item on demand (~5 ms of CPU for a
128x64 person). Pretraining visits each of its 2,400 default images 5+ times, and the DataLoader's
workers start afresh every epoch, so on demand the same person is drawn again and again: in the
default run that was ~55 s of CPU out of a ~6 minute budget on 2 cores. Rendering is a pure function of
``(seed, index)``, so the array built here holds exactly the images the on-demand dataset returns;
it is built in parallel processes before the DataLoader starts, and forked workers share it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from saip.synth.dataset import SyntheticPersonDataset

# Above this many bytes the persons are rendered on demand instead (a large synthetic world).
MAX_PRERENDER_BYTES = 1 << 30


def _render_range(dataset: SyntheticPersonDataset, start: int, stop: int) -> tuple[np.ndarray, list, list]:
    items = [dataset[i] for i in range(start, stop)]
    pixels = np.stack([np.asarray(item["image"].convert("RGB"), dtype=np.uint8) for item in items])
    return pixels, [item["pid"] for item in items], [item["camid"] for item in items]


class PrerenderedPersons(Dataset):
    """The items of an unlabelled ``SyntheticPersonDataset`` (``labels=False``), rendered once.

    ``dataset[i]`` is ``{"image": PIL RGB, "pid", "camid"}``, pixel for pixel the item of ``persons``.

    Args:
        persons: the on-demand dataset (``labels=False``: pretraining needs only the image).
        processes: rendering processes (1 = in this process).
    """

    def __init__(self, persons: SyntheticPersonDataset, processes: int = 1) -> None:
        if persons.labels:
            raise ValueError("PrerenderedPersons holds unlabelled persons (labels=False) only")
        self.persons = persons
        n = len(persons)
        processes = max(1, min(int(processes), n))
        if "fork" not in multiprocessing.get_all_start_methods():
            processes = 1  # no fork (Windows): render here rather than re-import saip in every process
        bounds = np.linspace(0, n, processes * 4 + 1, dtype=int) if processes > 1 else np.array([0, n])
        ranges = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        if processes == 1:
            parts = [_render_range(persons, a, b) for a, b in ranges]
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(processes, mp_context=context) as pool:
                parts = list(pool.map(_render_range, [persons] * len(ranges), *zip(*ranges, strict=True)))
        self.pixels = np.concatenate([p[0] for p in parts])  # (N, H, W, 3) uint8
        self.pids = [pid for p in parts for pid in p[1]]
        self.camids = [camid for p in parts for camid in p[2]]

    @staticmethod
    def fits(persons: SyntheticPersonDataset) -> bool:
        """Whether ``persons`` is small enough to hold in memory (``MAX_PRERENDER_BYTES``)."""
        height, width = persons.size
        return len(persons) * height * width * 3 <= MAX_PRERENDER_BYTES

    def __len__(self) -> int:
        return len(self.pids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        return {
            "image": Image.fromarray(self.pixels[index]),
            "pid": self.pids[index],
            "camid": self.camids[index],
        }
