"""Natural-language descriptions of synthetic persons, for text-to-image person retrieval.

CUHK-PEDES captions (Li et al., CVPR 2017) describe a pedestrian's clothes, colours, accessories,
hair and pose in free word order. Here each caption is built from the identity's traits (garment
types, their colours by name, patterns, shoes, hair, hat, glasses, bag, scarf, gloves, socks) and
the image's view and action, with several sentence templates, synonyms and clause orders drawn from
``(seed, pid, frame, k)``: a pure function, so two captions of one image differ while every
caption of an identity names the same traits. No caption says "left" or "right" (training flips
images, as IRRA does).
"""

from __future__ import annotations

import numpy as np

from saip.synth.identity import Identity
from saip.synth.palette import RGB

_CAPTION_STREAM = 7
# Named colours: the clothing, hair, shoe and accessory palettes of saip.synth.palette by name.
NAMED_COLORS: dict[str, RGB] = {
    "black": (26, 26, 30),
    "navy": (35, 45, 85),
    "dark grey": (62, 62, 66),
    "white": (234, 234, 230),
    "light grey": (190, 190, 186),
    "beige": (222, 205, 172),
    "red": (175, 32, 38),
    "pink": (225, 120, 150),
    "maroon": (115, 30, 42),
    "blue": (45, 85, 170),
    "light blue": (115, 160, 205),
    "teal": (40, 118, 135),
    "green": (52, 108, 56),
    "olive": (118, 132, 68),
    "yellow": (222, 188, 55),
    "orange": (205, 118, 42),
    "brown": (110, 72, 44),
    "dark brown": (58, 38, 26),
    "blond": (196, 160, 96),
    "grey": (150, 150, 150),
    "auburn": (140, 60, 30),
}
_TOPS = {
    "tshirt": ["t-shirt", "short-sleeved shirt", "short-sleeved top"],
    "longsleeve": ["long-sleeved shirt", "long-sleeved top", "sweater"],
    "coat": ["coat", "long jacket", "overcoat"],
    "vest": ["vest", "sleeveless top", "tank top"],
}
_BOTTOMS = {
    "trousers": ["trousers", "pants", "long pants"],
    "shorts": ["shorts", "short pants"],
    "skirt": ["skirt", "knee-length skirt"],
}
_HAIR = {"short": "short", "long": "long", "ponytail": "tied-back", "buzz": "very short"}
_ACTIONS = {
    "stand": ["is standing", "stands still"],
    "walk": ["is walking", "walks along"],
    "arms_up": ["has both arms raised", "holds both arms up"],
    "wave": ["is waving", "raises one hand to wave"],
    "arms_out": ["holds the arms out", "stretches both arms out"],
    "reach": ["is reaching forward", "reaches out with one arm"],
}
_VIEWS = {
    "front": ["facing the camera", "seen from the front"],
    "back": ["seen from behind", "facing away from the camera"],
    "left": ["seen from the side", "in profile"],
    "right": ["seen from the side", "in profile"],
}
_SUBJECTS = ["A person", "The pedestrian", "This person", "A pedestrian", "The person"]


def color_name(rgb: RGB | tuple[int, ...]) -> str:
    """The nearest entry of :data:`NAMED_COLORS` (Euclidean distance in RGB)."""
    value = np.asarray(rgb, dtype=np.float64)
    names = list(NAMED_COLORS)
    dists = [float(((value - np.asarray(NAMED_COLORS[n])) ** 2).sum()) for n in names]
    return names[int(np.argmin(dists))]


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _a(phrase: str) -> str:
    """``phrase`` with its indefinite article."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _garments(i: Identity, rng: np.random.Generator) -> list[str]:
    top = f"{color_name(i.top_color)} {_pick(rng, _TOPS[i.top_type])}"
    if i.top_pattern == "stripes":
        colors = f"{color_name(i.top_color)} and {color_name(i.top_color2)}"
        top = f"{colors} striped {_pick(rng, _TOPS[i.top_type])}"
    elif i.top_pattern == "twotone":
        top += f" with a {color_name(i.top_color2)} yoke"
    elif i.top_pattern == "logo":
        top += f" with a {color_name(i.top_color2)} logo"
    bottom = f"{color_name(i.bottom_color)} {_pick(rng, _BOTTOMS[i.bottom_type])}"
    if i.bottom_pattern == "stripe":
        bottom += f" with a {color_name(i.bottom_color2)} stripe"
    items = [_a(top), bottom if i.bottom_type != "skirt" else _a(bottom)]
    items.append(f"{color_name(i.shoe_color)} shoes")
    if i.socks and i.bottom_type != "trousers":
        items.append(f"{color_name(i.sock_color)} socks")
    if i.scarf:
        items.append(_a(f"{color_name(i.scarf_color)} scarf"))
    if i.gloves:
        items.append(f"{color_name(i.glove_color)} gloves")
    return items


def _head(i: Identity, rng: np.random.Generator) -> list[str]:
    items = [f"{_HAIR[i.hair_style]} {color_name(i.hair_color)} hair"]
    if i.hat is not None:
        items.append(_a(f"{color_name(i.hat_color)} {i.hat}"))
    if i.glasses:
        items.append(_pick(rng, ["dark sunglasses", "sunglasses"]))
    return items


def _bag(i: Identity, rng: np.random.Generator) -> str | None:
    if i.bag is None:
        return None
    noun = "backpack" if i.bag == "backpack" else _pick(rng, ["handbag", "shoulder bag"])
    return _a(f"{color_name(i.bag_color)} {noun}")


def describe_person(identity: Identity, view: str, action: str, seed: int, frame: int, k: int) -> str:
    """Caption ``k`` of image ``frame`` of ``identity`` seen from ``view`` doing ``action``."""
    rng = np.random.default_rng([seed, _CAPTION_STREAM, identity.pid, frame, k])
    garments = _garments(identity, rng)
    garments = [garments[j] for j in rng.permutation(len(garments))]
    head = _head(identity, rng)
    bag = _bag(identity, rng)
    subject = _pick(rng, _SUBJECTS)
    pose = f"{_pick(rng, _ACTIONS[action])}, {_pick(rng, _VIEWS[view])}"
    form = int(rng.integers(3))
    if form == 0:
        text = f"{subject} is wearing {_join(garments)}. The person has {_join(head)}"
        text += f" and carries {bag}." if bag else "."
        text += f" The person {pose}."
    elif form == 1:
        text = f"{subject} with {_join(head)} {pose}. The person wears {_join(garments)}"
        text += f", carrying {bag}." if bag else "."
    else:
        carry = f" with {bag}" if bag else ""
        text = f"{subject} in {_join(garments)}{carry} {pose}. This person has {_join(head)}."
    return text


def describe_image(
    identity: Identity, view: str, action: str, seed: int, frame: int, n: int = 2
) -> list[str]:
    """``n`` different captions of one image (CUHK-PEDES has two per image)."""
    return [describe_person(identity, view, action, seed, frame, k) for k in range(n)]
