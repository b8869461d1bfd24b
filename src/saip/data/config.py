"""``SAIPViewConfig``: every knob of the SAIP inputs of method.md §1 ("Inputs built per person image").

Sizes are ``(height, width)`` in pixels. Defaults follow method.md §1 and the reference pipeline
(reference-code.md §1.3) minus its defects (nearest-neighbour rescaling, a hard-coded background
folder, persons always pasted side by side at fixed rows).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

CANVAS_BACKGROUNDS = ("batch", "color", "noise")
_SOURCE_PATTERN = re.compile(r"^(global|local)(-?\d+)$")


def parse_view_source(name: str, n_local: int, option: str) -> tuple[str, int]:
    """Parse ``"global0"``, ``"global1"``, ``"local3"`` or ``"local-1"`` (last local crop).

    Returns ``(kind, non-negative index)``; raises ``ValueError`` naming ``option`` if the view
    does not exist under this config.
    """
    match = _SOURCE_PATTERN.match(name)
    if match is None:
        raise ValueError(
            f"{option}: {name!r} is not a view name (use 'global0', 'global1', 'localN', 'local-1')"
        )
    kind, index = match.group(1), int(match.group(2))
    count = 2 if kind == "global" else n_local
    if not -count <= index < count:
        raise ValueError(f"{option}: view {name!r} does not exist (there are {count} {kind} views)")
    return kind, index % count


def _pair(value: Any, option: str, cast: type = float) -> tuple[Any, Any]:
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{option} must be a pair of two numbers, got {value!r}") from None
    return cast(first), cast(second)


@dataclass
class SAIPViewConfig:
    """Views, rescaled copies, CSR masking and multi-person canvas (method.md §1).

    Crops (method.md §1 item 1; DINO multi-crop):
        global_size: (H, W) of the 2 global views. (256, 128)
        global_scale: area fraction range of the global random resized crop. (0.8, 1.0)
        global_ratio: width/height range of the crop; None derives it from the target size as
            (0.8·W/H, 1.2·W/H), which is the reference's (0.4, 0.6) for 256×128. None
        n_local: number of local crops, 0 allowed. 8
        local_size: (H, W) of the local crops. (128, 64)
        local_scale: area fraction range of the local crops. (0.05, 0.8)
        local_ratio: as ``global_ratio`` for local crops. None
    Photometric augmentation (DINO):
        hflip_p 0.5; jitter (brightness, contrast, saturation, hue) (0.4, 0.4, 0.2, 0.1) applied
        with jitter_p 0.8 in random order; grayscale_p 0.2; Gaussian blur with sigma in
        blur_sigma (0.1, 2.0) and probability global_blur_p (1.0, 0.1) per global view and
        local_blur_p 0.5; solarize (threshold 128) with global_solarize_p (0.0, 0.2) and
        local_solarize_p 0.0.
    Normalisation: mean/std (ImageNet).
    Multi-resolution copies (method.md §1 item 2):
        n_scaled: number of rescaled copies, 0 allowed. 2
        scaled_sources: view each copy is made from; None cycles global1, local0, global0,
            local1, ... (only views that exist). None
        scale_set: explicit factors drawn uniformly (e.g. the reference's (0.75, 0.875, 1.125, 1.25));
            when set it replaces ``scale_range``. None
        scale_range: factors drawn uniformly from this interval. (0.75, 1.5)
        Rounding: each side is rescaled to ``stride * floor(side * factor / stride + 0.5)``
        (nearest multiple of ``patch_stride``, halves rounded up, at least one stride), the two
        sides independently, so the aspect ratio can move by up to half a stride per side.
    CSR (method.md §1 objectives, CSR):
        make_csr True; csr_source "global1" (rescaled), csr_anchor "global0" (documentation of the
        pairing: the anchor is ``global_views[0]``); csr_scale 1.25 (256×128 → 320×160, rounded
        like the copies); mask_ratio 0.75.
    Multi-person canvas (method.md §1 item 3, CSS):
        make_canvas True; canvas_size (224, 224); canvas_persons, the views pasted as persons
        0..K-1 (also the CSS queries), None = ("global0", "local-1") or, without local crops,
        ("global0", "global1"); n_distractors 0 (extra persons
        from other samples of the batch, no mask); canvas_background "batch" (a random crop
        of another sample's ``global1``), "color" (plain random colour) or "noise";
        canvas_bg_scale (0.2, 1.0) area fraction of that crop; canvas_person_height
        (0.4, 0.7) person height as a fraction of canvas height (aspect kept);
        max_overlap 0.0 (largest IoU allowed between pasted persons; 0 = disjoint);
        paste_alpha 1.0 (reference: 0.7 person / 0.3 background, in normalised space).
    patch_stride: 16; every produced size must be a multiple of it.
    """

    global_size: tuple[int, int] = (256, 128)
    global_scale: tuple[float, float] = (0.8, 1.0)
    global_ratio: tuple[float, float] | None = None
    n_local: int = 8
    local_size: tuple[int, int] = (128, 64)
    local_scale: tuple[float, float] = (0.05, 0.8)
    local_ratio: tuple[float, float] | None = None

    hflip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    global_blur_p: tuple[float, float] = (1.0, 0.1)
    global_solarize_p: tuple[float, float] = (0.0, 0.2)
    local_blur_p: float = 0.5
    local_solarize_p: float = 0.0

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    n_scaled: int = 2
    scaled_sources: tuple[str, ...] | None = None
    scale_set: tuple[float, ...] | None = None
    scale_range: tuple[float, float] = (0.75, 1.5)

    make_csr: bool = True
    csr_source: str = "global1"
    csr_anchor: str = "global0"
    csr_scale: float = 1.25
    mask_ratio: float = 0.75

    make_canvas: bool = True
    canvas_size: tuple[int, int] = (224, 224)
    canvas_persons: tuple[str, ...] | None = None
    n_distractors: int = 0
    canvas_background: str = "batch"
    canvas_bg_scale: tuple[float, float] = (0.2, 1.0)
    canvas_person_height: tuple[float, float] = (0.4, 0.7)
    max_overlap: float = 0.0
    paste_alpha: float = 1.0

    patch_stride: int = 16

    # resolved in __post_init__
    _scaled_views: tuple[tuple[str, int], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._coerce()
        self._validate()

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SAIPViewConfig:
        """Build from a plain mapping (e.g. an OmegaConf section); unknown keys are an error."""
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown view option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**dict(values))

    def _coerce(self) -> None:
        for name in ("global_size", "local_size", "canvas_size"):
            setattr(self, name, _pair(getattr(self, name), name, int))
        for name in (
            "global_scale",
            "local_scale",
            "blur_sigma",
            "global_blur_p",
            "global_solarize_p",
            "scale_range",
            "canvas_bg_scale",
            "canvas_person_height",
        ):
            setattr(self, name, _pair(getattr(self, name), name))
        for name in ("global_ratio", "local_ratio"):
            if getattr(self, name) is not None:
                setattr(self, name, _pair(getattr(self, name), name))
        self.jitter = tuple(float(v) for v in self.jitter)
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        if self.canvas_persons is None:  # default: own global view 0 and last local crop
            self.canvas_persons = ("global0", "local-1") if self.n_local > 0 else ("global0", "global1")
        self.canvas_persons = tuple(self.canvas_persons)
        if self.scaled_sources is not None:
            self.scaled_sources = tuple(self.scaled_sources)
        if self.scale_set is not None:
            self.scale_set = tuple(float(v) for v in self.scale_set)

    def _validate(self) -> None:
        stride = self.patch_stride
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"patch_stride must be a positive integer, got {stride!r}")
        sizes = {"global_size": self.global_size, "local_size": self.local_size}
        if self.make_canvas:
            sizes["canvas_size"] = self.canvas_size
        for name, (h, w) in sizes.items():
            if h <= 0 or w <= 0 or h % stride or w % stride:
                raise ValueError(f"{name} must be positive multiples of patch_stride={stride}, got {(h, w)}")
        for name in ("global_scale", "local_scale", "canvas_bg_scale"):
            low, high = getattr(self, name)
            if not 0 < low <= high <= 1:
                raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {(low, high)}")
        for name in ("global_ratio", "local_ratio"):
            ratio = getattr(self, name)
            if ratio is not None and not 0 < ratio[0] <= ratio[1]:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {ratio}")
        if not isinstance(self.n_local, int) or self.n_local < 0:
            raise ValueError(f"n_local must be an integer >= 0, got {self.n_local!r}")
        probabilities = {
            "hflip_p": self.hflip_p,
            "jitter_p": self.jitter_p,
            "grayscale_p": self.grayscale_p,
            "local_blur_p": self.local_blur_p,
            "local_solarize_p": self.local_solarize_p,
        }
        for i in range(2):
            probabilities[f"global_blur_p[{i}]"] = self.global_blur_p[i]
            probabilities[f"global_solarize_p[{i}]"] = self.global_solarize_p[i]
        for name, p in probabilities.items():
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        if len(self.jitter) != 4 or any(v < 0 for v in self.jitter) or self.jitter[3] > 0.5:
            raise ValueError(
                f"jitter must be 4 values >= 0 (brightness, contrast, saturation, hue<=0.5), "
                f"got {self.jitter}"
            )
        if not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < low <= high, got {self.blur_sigma}")
        if len(self.mean) != 3 or len(self.std) != 3 or any(s <= 0 for s in self.std):
            raise ValueError(
                f"mean/std must be 3 values each with std > 0, got mean={self.mean} std={self.std}"
            )
        # rescaled copies
        if not isinstance(self.n_scaled, int) or self.n_scaled < 0:
            raise ValueError(f"n_scaled must be an integer >= 0, got {self.n_scaled!r}")
        if self.scale_set is not None:
            if not self.scale_set or any(not math.isfinite(s) or s <= 0 for s in self.scale_set):
                raise ValueError(f"scale_set must be a non-empty list of factors > 0, got {self.scale_set}")
        elif not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")
        self._scaled_views = tuple(self._resolve_scaled_sources())
        # CSR
        if self.make_csr:
            source = parse_view_source(self.csr_source, self.n_local, "csr_source")
            if parse_view_source(self.csr_anchor, self.n_local, "csr_anchor") == source:
                raise ValueError(
                    f"csr_anchor {self.csr_anchor!r} and csr_source {self.csr_source!r} are the same view: "
                    "CSR would reconstruct the patches it is shown (choose another anchor)"
                )
            if not (math.isfinite(self.csr_scale) and self.csr_scale > 0):
                raise ValueError(f"csr_scale must be > 0, got {self.csr_scale}")
            if not 0 < self.mask_ratio < 1:
                raise ValueError(f"mask_ratio must be in the open interval (0, 1), got {self.mask_ratio}")
        # canvas
        if self.make_canvas:
            if not self.canvas_persons:
                raise ValueError("canvas_persons must name at least one view")
            for name in self.canvas_persons:
                parse_view_source(name, self.n_local, "canvas_persons")
            if not isinstance(self.n_distractors, int) or self.n_distractors < 0:
                raise ValueError(f"n_distractors must be an integer >= 0, got {self.n_distractors!r}")
            if self.canvas_background not in CANVAS_BACKGROUNDS:
                raise ValueError(
                    f"canvas_background must be one of {CANVAS_BACKGROUNDS}, got {self.canvas_background!r}"
                )
            low, high = self.canvas_person_height
            if not 0 < low <= high <= 1:
                raise ValueError(f"canvas_person_height must satisfy 0 < low <= high <= 1, got {(low, high)}")
            if not 0 <= self.max_overlap < 1:
                raise ValueError(f"max_overlap must be in [0, 1), got {self.max_overlap}")
            if not 0 < self.paste_alpha <= 1:
                raise ValueError(f"paste_alpha must be in (0, 1], got {self.paste_alpha}")

    def _resolve_scaled_sources(self) -> list[tuple[str, int]]:
        if self.n_scaled == 0:
            return []
        if self.scaled_sources is not None:
            if not self.scaled_sources:
                raise ValueError("scaled_sources must name at least one view (or be None)")
            parsed = [parse_view_source(name, self.n_local, "scaled_sources") for name in self.scaled_sources]
        else:
            parsed = _interleave(self.n_local)
        return [parsed[i % len(parsed)] for i in range(self.n_scaled)]

    # -- derived values ---------------------------------------------------------------------
    @property
    def scaled_views(self) -> tuple[tuple[str, int], ...]:
        """``(kind, index)`` of the view each rescaled copy is made from, one per copy."""
        return self._scaled_views

    def crop_ratio(self, kind: str) -> tuple[float, float]:
        """Width/height range of the random resized crop for ``"global"`` or ``"local"`` views."""
        ratio = self.global_ratio if kind == "global" else self.local_ratio
        if ratio is not None:
            return ratio
        h, w = self.global_size if kind == "global" else self.local_size
        return (0.8 * w / h, 1.2 * w / h)


def _interleave(n_local: int) -> list[tuple[str, int]]:
    """Default source cycle: global1, local0, global0, local1, local2, ..."""
    order: list[tuple[str, int]] = [("global", 1)]
    if n_local > 0:
        order.append(("local", 0))
    order.append(("global", 0))
    order.extend(("local", i) for i in range(1, n_local))
    return order
