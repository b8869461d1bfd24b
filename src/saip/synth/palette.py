"""Small shared colour palettes: many identities share colours, so no single colour separates them."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

RGB = tuple[int, int, int]
T = TypeVar("T")

# Clothing colours by attribute colour group (PETA/PA100K-style colour attributes).
COLOR_GROUPS: dict[str, list[RGB]] = {
    "dark": [(28, 28, 32), (35, 45, 85), (62, 62, 66)],
    "light": [(232, 232, 226), (190, 190, 186), (222, 205, 172)],
    "red": [(175, 32, 38), (225, 120, 150), (115, 30, 42)],
    "blue": [(45, 85, 170), (115, 160, 205), (40, 118, 135)],
    "green": [(52, 108, 56), (118, 132, 68)],
    "yellow": [(222, 188, 55), (205, 118, 42), (128, 88, 52)],
}
GROUP_NAMES: list[str] = list(COLOR_GROUPS)
# Dark and light clothes are the most common, as in real pedestrian data.
GROUP_WEIGHTS = np.array([0.3, 0.22, 0.13, 0.17, 0.08, 0.1])

SKIN_TONES: list[RGB] = [(244, 208, 180), (226, 184, 150), (196, 146, 108), (150, 104, 72), (100, 68, 48)]
HAIR_COLORS: list[RGB] = [
    (22, 18, 16),
    (58, 38, 26),
    (105, 70, 42),
    (196, 160, 96),
    (150, 150, 150),
    (140, 60, 30),
]
HAIR_WEIGHTS = np.array([0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
SHOE_COLORS: list[RGB] = [(25, 25, 25), (235, 235, 235), (90, 60, 40), (60, 60, 70), (160, 40, 40)]
ACCESSORY_COLORS: list[RGB] = [
    (25, 25, 28),
    (70, 70, 75),
    (40, 60, 120),
    (120, 40, 40),
    (150, 120, 80),
    (60, 90, 60),
]


def jitter(rng: np.random.Generator, color: RGB, amount: int = 12) -> RGB:
    """A slightly different shade of ``color`` (identities sharing a colour still differ a little)."""
    c = np.clip(np.asarray(color) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(c[0]), int(c[1]), int(c[2]))


def shade(color: RGB, factor: float) -> RGB:
    """Multiply a colour by ``factor`` (darker < 1 < brighter)."""
    return tuple(int(min(255, max(0, round(v * factor)))) for v in color)  # type: ignore[return-value]


def pick(rng: np.random.Generator, items: list[T], weights: np.ndarray | None = None) -> T:
    """One element of ``items`` (weighted)."""
    p = None if weights is None else weights / weights.sum()
    return items[int(rng.choice(len(items), p=p))]
