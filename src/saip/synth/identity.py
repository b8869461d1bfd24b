"""Identities: fixed appearance traits derived deterministically from (seed, identity id)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saip.synth.palette import (
    ACCESSORY_COLORS,
    COLOR_GROUPS,
    GROUP_NAMES,
    GROUP_WEIGHTS,
    HAIR_COLORS,
    HAIR_WEIGHTS,
    RGB,
    SHOE_COLORS,
    SKIN_TONES,
    jitter,
    pick,
    shade,
)
from saip.synth.skeleton import Body, sample_body

_IDENTITY_STREAM = 1  # separates identity randomness from image randomness

HAIR_STYLES = ["short", "long", "ponytail", "buzz"]
TOP_TYPES = ["tshirt", "longsleeve", "coat", "vest"]
TOP_PATTERNS = ["plain", "stripes", "twotone", "logo"]
BOTTOM_TYPES = ["trousers", "shorts", "skirt"]
BOTTOM_PATTERNS = ["plain", "stripe"]
HATS = [None, "cap", "beanie"]
BAGS = [None, "backpack", "handbag"]


@dataclass(frozen=True)
class Identity:
    """Appearance traits that stay fixed across all images of one person."""

    pid: int
    body: Body
    skin: RGB
    hair_style: str
    hair_color: RGB
    top_type: str
    top_group: str
    top_color: RGB
    top_pattern: str
    top_color2: RGB
    bottom_type: str
    bottom_group: str
    bottom_color: RGB
    bottom_pattern: str
    bottom_color2: RGB
    shoe_color: RGB
    hat: str | None
    hat_color: RGB
    bag: str | None
    bag_color: RGB
    bag_side: float  # +1: left side of the body, -1: right
    glasses: bool
    gloves: bool
    glove_color: RGB
    scarf: bool
    scarf_color: RGB
    socks: bool
    sock_color: RGB


def _clothing(rng: np.random.Generator) -> tuple[str, RGB]:
    group = pick(rng, GROUP_NAMES, GROUP_WEIGHTS)
    return group, jitter(rng, pick(rng, COLOR_GROUPS[group]), 14)


def make_identity(seed: int, pid: int) -> Identity:
    """The identity ``pid`` of the synthetic population ``seed`` (pure function of both)."""
    rng = np.random.default_rng([seed, _IDENTITY_STREAM, pid])
    top_group, top_color = _clothing(rng)
    bottom_group, bottom_color = _clothing(rng)
    bottom_type = pick(rng, BOTTOM_TYPES, np.array([0.58, 0.18, 0.24]))
    hair_style = pick(rng, HAIR_STYLES, np.array([0.4, 0.3, 0.15, 0.15]))
    _, second = _clothing(rng)
    if second == top_color:
        second = shade(second, 0.6)
    return Identity(
        pid=pid,
        body=sample_body(rng),
        skin=jitter(rng, pick(rng, SKIN_TONES), 8),
        hair_style=hair_style,
        hair_color=jitter(rng, pick(rng, HAIR_COLORS, HAIR_WEIGHTS), 8),
        top_type=pick(rng, TOP_TYPES, np.array([0.36, 0.28, 0.24, 0.12])),
        top_group=top_group,
        top_color=top_color,
        top_pattern=pick(rng, TOP_PATTERNS, np.array([0.55, 0.2, 0.13, 0.12])),
        top_color2=second,
        bottom_type=bottom_type,
        bottom_group=bottom_group,
        bottom_color=bottom_color,
        bottom_pattern=pick(rng, BOTTOM_PATTERNS, np.array([0.8, 0.2])),
        bottom_color2=jitter(rng, pick(rng, [(235, 235, 235), (30, 30, 30), (200, 40, 40)]), 6),
        shoe_color=jitter(rng, pick(rng, SHOE_COLORS), 10),
        hat=pick(rng, HATS, np.array([0.8, 0.12, 0.08])),
        hat_color=jitter(rng, pick(rng, ACCESSORY_COLORS), 10),
        bag=pick(rng, BAGS, np.array([0.45, 0.3, 0.25])),
        bag_color=jitter(rng, pick(rng, ACCESSORY_COLORS), 10),
        bag_side=1.0 if rng.random() < 0.5 else -1.0,
        glasses=bool(rng.random() < 0.2),
        gloves=bool(rng.random() < 0.06),
        glove_color=jitter(rng, pick(rng, ACCESSORY_COLORS), 8),
        scarf=bool(rng.random() < 0.08),
        scarf_color=jitter(rng, pick(rng, ACCESSORY_COLORS + [(180, 30, 40), (220, 200, 60)]), 10),
        socks=bool(rng.random() < 0.35),
        sock_color=pick(rng, [(240, 240, 240), (30, 30, 30), (120, 120, 120)]),
    )
