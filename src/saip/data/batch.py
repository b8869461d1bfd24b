"""``SAIPBatch``: one training batch of SAIP inputs (method.md §1), produced by ``SAIPCollate``.

All image tensors are float32, normalised with the config's mean/std. B = batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch

from saip.data.config import parse_view_source


def _move(value: Any, fn: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, list):
        return [_move(item, fn) for item in value]
    return value


@dataclass
class SAIPBatch:
    """SAIP inputs of one batch. Fields switched off by the config are None / empty.

    Attributes:
        index: (B,) int64, dataset indices of the samples.
        epoch: the epoch the views were drawn for.
        global_views: (2, B, 3, Hg, Wg); ``global_views[0]`` is the CSM/CSR anchor view x_a.
        local_views: (n_local, B, 3, Hl, Wl); shape (0, B, 3, Hl, Wl) when ``n_local == 0``.
        scaled_views: n_scaled tensors (B, 3, h_i, w_i), multi-resolution copies x_s (h_i, w_i
            multiples of the patch stride).
        scaled_factors: n_scaled floats, the factor drawn for each copy (sizes are rounded to the
            stride, see ``SAIPViewConfig``).
        scaled_sources: n_scaled view names ("global1", "local0", ...) each copy was made from.
        csr_view: (B, 3, Hr, Wr) = ``csr_source`` view rescaled by ``csr_scale`` (320×160 by
            default), or None.
        csr_mask: (B, L) bool, True = masked patch, L = (Hr/16)·(Wr/16); or None.
        csr_ids_keep: (B, n_keep) int64 visible patch indices (ascending); or None.
        csr_ids_restore: (B, L) int64 (MAE convention, see ``saip.data.masking``); or None.
        csr_anchor_source: name of the anchor view (default "global0"); tensor via ``csr_anchor``.
        canvas: (B, 3, Hc, Wc) multi-person image x_m, or None.
        canvas_boxes: (B, K, 4) int64 pasted boxes (x1, y1, x2, y2), half-open, or None.
        canvas_masks: (B, K, Hc, Wc) bool, exactly the pasted rectangles, or None.
        canvas_distractor_boxes: (B, D, 4) int64 boxes of distractor persons (no query), or None.
        css_query_sources: K view names; query k of sample b is the view whose pasted copy is
            ``canvas_masks[b, k]``. Tensors via ``css_queries`` (no copy).
    """

    index: torch.Tensor
    epoch: int
    global_views: torch.Tensor
    local_views: torch.Tensor
    scaled_views: list[torch.Tensor] = field(default_factory=list)
    scaled_factors: list[float] = field(default_factory=list)
    scaled_sources: list[str] = field(default_factory=list)
    csr_view: torch.Tensor | None = None
    csr_mask: torch.Tensor | None = None
    csr_ids_keep: torch.Tensor | None = None
    csr_ids_restore: torch.Tensor | None = None
    csr_anchor_source: str = "global0"
    canvas: torch.Tensor | None = None
    canvas_boxes: torch.Tensor | None = None
    canvas_masks: torch.Tensor | None = None
    canvas_distractor_boxes: torch.Tensor | None = None
    css_query_sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def view(self, name: str) -> torch.Tensor:
        """(B, 3, H, W) view by name: "global0", "global1", "localN", "local-1"."""
        kind, i = parse_view_source(name, self.local_views.shape[0], "view name")
        return self.global_views[i] if kind == "global" else self.local_views[i]

    @property
    def csr_anchor(self) -> torch.Tensor:
        """(B, 3, Hg, Wg) anchor view of CSR (``global_views[0]`` by default)."""
        return self.view(self.csr_anchor_source)

    @property
    def css_queries(self) -> list[torch.Tensor]:
        """K tensors (B, 3, h_k, w_k): the single-person views pasted as persons 0..K-1."""
        return [self.view(name) for name in self.css_query_sources]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> SAIPBatch:
        """A copy with every tensor on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> SAIPBatch:
        """Pinned copy (called by ``DataLoader(pin_memory=True)``)."""
        return self._map(lambda t: t.pin_memory())

    def _map(self, fn: Any) -> SAIPBatch:
        return replace(self, **{f.name: _move(getattr(self, f.name), fn) for f in fields(self)})
