"""Counter-based seeding: every random draw of the data pipeline derives from a tuple of integers.

method.md §1 ("Inputs built per person image") asks for random views; this project also asks
that the same ``(seed, epoch, index)`` always gives the same views, whatever the number of
DataLoader workers or the order in which they run. We never touch the global torch/numpy RNG:
each sample (and each batch-level draw) gets its own generator keyed by a tuple of integers
``(seed, epoch, index, stream)``. ``stream`` separates independent draws (views, rescale
factors, masking, canvas) so that switching one of them off never changes the others.
"""

from __future__ import annotations

import numpy as np
import torch

# Stream ids: one per independent random decision. Never renumber (it changes every view).
STREAM_VIEWS = 0
STREAM_RESCALE = 1
STREAM_MASK = 2
STREAM_CANVAS = 3


def numpy_rng(seed: int, epoch: int, index: int, stream: int, *sub: int) -> np.random.Generator:
    """A numpy generator for one ``(seed, epoch, index, stream, *sub)`` key (non-negative ints).

    ``sub`` keys separate finer draws inside a stream (e.g. one generator per view), so that
    changing the number of local crops leaves the global views unchanged.
    """
    return np.random.default_rng([int(seed), int(epoch), int(index), int(stream), *map(int, sub)])


def torch_generator(seed: int, epoch: int, index: int, stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from the same key as :func:`numpy_rng`."""
    derived = int(numpy_rng(seed, epoch, index, stream).integers(0, 2**63 - 1))
    generator = torch.Generator()
    generator.manual_seed(derived)
    return generator
