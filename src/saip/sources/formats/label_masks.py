"""Person boxes from instance label maps: the tight box of each instance's pixels.

CIHP (Gong et al., "Instance-level Human Parsing via Part Grouping Network", ECCV 2018) and
MHPv2 (Zhao et al., "Understanding Humans in Crowded Scenes", ACM MM 2018) give no person boxes,
only per-pixel person masks; the box of a person is the smallest axis-aligned rectangle holding
all its pixels. Pixels are unit squares: a mask whose pixels span rows 3..7 and columns 2..5 has
the box ``(x, y, w, h) = (2, 3, 4, 5)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from saip.data.image_io import DECODE_ERRORS
from saip.errors import InputError


def read_label_map(path: Path) -> np.ndarray:
    """The ``(H, W)`` integer label map in a PNG: palette indices, grey values, or the R channel.

    MHPv2's annotation PNGs have 3 identical channels (the label is in R, per its evaluation
    README); CIHP's are palette or grey images. Unreadable files raise :class:`InputError` naming
    the file.
    """
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image)
    except DECODE_ERRORS as error:
        raise InputError(f"{path}: not a readable label PNG ({type(error).__name__}: {error})") from error
    if array.ndim == 3:
        array = array[..., 0]
    if array.ndim != 2:
        raise InputError(f"{path}: expected a 2-D label map, got shape {array.shape}")
    return array


def instance_boxes(labels: np.ndarray) -> dict[int, tuple[float, float, float, float]]:
    """``{instance id: (x, y, w, h)}``: the tight box of every non-zero id of ``labels`` (0 = background).

    One pass over the foreground pixels (``np.minimum.at`` / ``np.maximum.at`` per id), ids in
    increasing order.
    """
    ys, xs = np.nonzero(labels)
    if ys.size == 0:
        return {}
    ids, inverse = np.unique(labels[ys, xs], return_inverse=True)
    x1 = np.full(ids.size, np.iinfo(np.int64).max)
    y1 = np.full(ids.size, np.iinfo(np.int64).max)
    x2 = np.full(ids.size, -1)
    y2 = np.full(ids.size, -1)
    np.minimum.at(x1, inverse, xs)
    np.minimum.at(y1, inverse, ys)
    np.maximum.at(x2, inverse, xs)
    np.maximum.at(y2, inverse, ys)
    return {
        int(i): (float(a), float(b), float(c - a + 1), float(d - b + 1))
        for i, a, b, c, d in zip(ids, x1, y1, x2, y2, strict=True)
    }
