"""The three SAIP objectives (method.md §1): each a decoder module plus a loss, tensors in, scalar out.

- CSM (cross-scale matching): :class:`CSMHead`, :class:`CSMLoss`, :func:`attention_kl` (optional term).
- CSR (cross-scale reconstruction): :class:`CSRDecoder`, :func:`csr_loss`.
- CSS (cross-scale search): :class:`CSSDecoder`, :func:`css_loss`.
"""

from saip.objectives.attention_kl import attention_kl
from saip.objectives.csm import CSMHead, CSMLoss, csm_diagnostics
from saip.objectives.csr import CSRDecoder, csr_loss, patchify, unpatchify
from saip.objectives.css import CSSDecoder, css_loss, downsample_masks
from saip.objectives.pos_embed import get_2d_sincos_pos_embed

__all__ = [
    "CSMHead",
    "CSMLoss",
    "CSRDecoder",
    "CSSDecoder",
    "attention_kl",
    "csm_diagnostics",
    "csr_loss",
    "css_loss",
    "downsample_masks",
    "get_2d_sincos_pos_embed",
    "patchify",
    "unpatchify",
]
