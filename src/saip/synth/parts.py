"""Body-part classes of the synthetic parsing masks: the 20 LIP classes plus ``Bag`` (id 20).

Left/right follow the person's anatomical side (the same convention as the COCO ``left_*``
keypoints), so a person seen from the front has ``Left-arm`` on the image's right.
"""

from __future__ import annotations

PART_CLASSES: list[str] = [
    "Background",
    "Hat",
    "Hair",
    "Glove",
    "Sunglasses",
    "UpperClothes",
    "Dress",
    "Coat",
    "Socks",
    "Pants",
    "Jumpsuits",
    "Scarf",
    "Skirt",
    "Face",
    "Left-arm",
    "Right-arm",
    "Left-leg",
    "Right-leg",
    "Left-shoe",
    "Right-shoe",
    "Bag",
]

BACKGROUND, HAT, HAIR, GLOVE, SUNGLASSES, UPPER_CLOTHES, DRESS, COAT = range(8)
SOCKS, PANTS, JUMPSUITS, SCARF, SKIRT, FACE = range(8, 14)
LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE, BAG = range(14, 21)

NUM_PART_CLASSES: int = len(PART_CLASSES)

# Class pairs swapped by a horizontal flip.
PART_FLIP_PAIRS: list[tuple[int, int]] = [
    (LEFT_ARM, RIGHT_ARM),
    (LEFT_LEG, RIGHT_LEG),
    (LEFT_SHOE, RIGHT_SHOE),
]

# A fixed colour per class for previews (index = class id).
PART_COLORS: list[tuple[int, int, int]] = [
    (0, 0, 0),
    (128, 0, 0),
    (255, 0, 0),
    (0, 85, 0),
    (170, 0, 51),
    (255, 85, 0),
    (0, 0, 85),
    (0, 119, 221),
    (85, 85, 0),
    (0, 85, 85),
    (85, 51, 0),
    (52, 86, 128),
    (0, 128, 0),
    (0, 0, 255),
    (51, 170, 221),
    (0, 255, 255),
    (85, 255, 170),
    (170, 255, 85),
    (255, 255, 0),
    (255, 170, 0),
    (255, 0, 255),
]
