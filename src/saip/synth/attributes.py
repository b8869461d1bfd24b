"""Binary pedestrian attributes (PETA / PA100K style) derived from an identity's traits."""

from __future__ import annotations

import numpy as np

from saip.synth.identity import Identity
from saip.synth.palette import GROUP_NAMES

ATTRIBUTE_NAMES: list[str] = [
    "hat",
    "long_hair",
    "glasses",
    "long_sleeves",
    "short_sleeves",
    "coat",
    "trousers",
    "shorts",
    "skirt",
    "backpack",
    "handbag",
    "upper_patterned",
    "lower_patterned",
    *[f"upper_{g}" for g in GROUP_NAMES],
    *[f"lower_{g}" for g in GROUP_NAMES],
]


def attribute_vector(identity: Identity) -> np.ndarray:
    """The attribute vector (uint8 0/1, order of :data:`ATTRIBUTE_NAMES`) of an identity."""
    i = identity
    values = {
        "hat": i.hat is not None,
        "long_hair": i.hair_style in ("long", "ponytail"),
        "glasses": i.glasses,
        "long_sleeves": i.top_type in ("longsleeve", "coat"),
        "short_sleeves": i.top_type == "tshirt",
        "coat": i.top_type == "coat",
        "trousers": i.bottom_type == "trousers",
        "shorts": i.bottom_type == "shorts",
        "skirt": i.bottom_type == "skirt",
        "backpack": i.bag == "backpack",
        "handbag": i.bag == "handbag",
        "upper_patterned": i.top_pattern != "plain",
        "lower_patterned": i.bottom_pattern != "plain",
    }
    for g in GROUP_NAMES:
        values[f"upper_{g}"] = i.top_group == g
        values[f"lower_{g}"] = i.bottom_group == g
    return np.array([values[name] for name in ATTRIBUTE_NAMES], dtype=np.uint8)
