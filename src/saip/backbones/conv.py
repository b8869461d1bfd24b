"""CNN / hybrid backbones (StarNet, TinyViT, any timm CNN) at output stride 16."""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from torch import nn

from saip.backbones.output import BackboneOutput


def _set_stride(conv: nn.Conv2d, stride: int) -> None:
    conv.stride = (stride, stride)


def make_stride16(model: nn.Module, timm_name: str) -> bool:
    """Turn the last stride-2 downsampling of a stride-32 model into stride 1, in place.

    StarNet-S3: the first conv of stage 4 (``stages.3.0.conv``); TinyViT: the depthwise conv of
    the last patch merging (``stages.3.downsample.conv2.conv``). This is what the SAIP authors'
    downstream code does for StarNet (reference-code.md §1.4): every layer and weight is kept
    (state-dict keys stay exactly timm's), only the last stage runs at stride 16 instead of 32.
    Returns True when a change was made. A plain timm model loaded with these weights computes
    the stride-32 variant; call this function on it to reproduce saip's features.
    """
    if timm_name.startswith("starnet"):
        _set_stride(model.stages[-1][0].conv, 1)
        return True
    if timm_name.startswith("tiny_vit"):
        _set_stride(model.stages[-1].downsample.conv2.conv, 1)
        return True
    return False


class ConvBackbone(nn.Module):
    """A timm CNN/hybrid that returns a pooled image token and its stride-16 feature map as tokens.

    Models without a class token have no image token of their own: it is the model's own
    pre-logits pooling (global average pool, plus the head norm where timm has one) of the
    stride-16 map (method.md §1 "Parts"). For StarNet and TinyViT the last downsampling is
    removed (:func:`make_stride16`); other timm CNNs are built with ``output_stride=16``
    (dilation), which timm supports for ResNets, EfficientNets, ConvNeXts and most CNNs.

    Masked inputs: a CNN cannot drop tokens, so masked patches are zeroed in pixel space (after
    normalisation, i.e. set to the mean colour) and only the visible positions are returned, in
    ``ids_keep`` order (the SparK-lite convention; documented deviation from MAE).
    """

    def __init__(self, timm_name: str, img_size: tuple[int, int] = (256, 128), **timm_kwargs) -> None:
        super().__init__()
        kwargs = dict(pretrained=False, num_classes=0, **timm_kwargs)
        if timm_name.startswith(("starnet", "tiny_vit")):
            self.model = timm.create_model(timm_name, **kwargs)
            make_stride16(self.model, timm_name)
        else:
            self.model = timm.create_model(timm_name, output_stride=16, **kwargs)
        self.timm_name = timm_name
        self.img_size = tuple(img_size)
        self.embed_dim: int = self.model.num_features
        self.stride = 16
        self._check_stride()

    def _check_stride(self) -> None:
        with torch.no_grad():
            was_training = self.model.training
            self.model.eval()
            out = self.model.forward_features(torch.zeros(1, 3, 64, 32))
            self.model.train(was_training)
        if out.shape[-2:] != (4, 2):
            raise ValueError(
                f"backbone {self.timm_name!r}: could not obtain a stride-16 feature map "
                f"(got {tuple(out.shape[-2:])} for a 64x32 input)"
            )

    def forward(
        self,
        images: torch.Tensor,
        ids_keep: torch.Tensor | None = None,
        return_blocks: Sequence[int] = (),
        return_attention: bool = False,
    ) -> BackboneOutput:
        """Encode ``images`` ``(B, 3, H, W)``; see :class:`ViTBackbone.forward` for the arguments."""
        if return_blocks or return_attention:
            raise ValueError(
                f"backbone {self.timm_name!r}: block tokens and attention maps are "
                "only available for ViT backbones"
            )
        _, _, H, W = images.shape
        if H % self.stride or W % self.stride:
            raise ValueError(f"input size {H}x{W} is not a multiple of the stride {self.stride}")
        h, w = H // self.stride, W // self.stride
        if ids_keep is not None:
            visible = torch.zeros(images.shape[0], h * w, device=images.device, dtype=images.dtype)
            visible.scatter_(1, ids_keep, 1.0)
            pixel_mask = visible.reshape(-1, 1, h, w).repeat_interleave(self.stride, 2)
            images = images * pixel_mask.repeat_interleave(self.stride, 3)
        fmap = self.model.forward_features(images)  # (B, D, h, w)
        image_token = self.model.forward_head(fmap, pre_logits=True)
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, h*w, D)
        if ids_keep is not None:
            tokens = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        return BackboneOutput(
            image_token=image_token, patch_tokens=tokens, grid_size=(h, w), ids_keep=ids_keep
        )

    def no_weight_decay_names(self) -> set[str]:
        return set()
