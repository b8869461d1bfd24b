"""``FrozenTeacher``: a pretrained model that only gives targets (DPAL teacher, SAIP* expert).

method.md §2 (DPAL): "a frozen large teacher"; §1 (SAIP*): "a frozen pretrained model ... any
timm model or checkpoint". The reference DPAL code freezes the teacher's parameters but never
switches it to eval mode (reference-code.md §2.2), so BatchNorm teachers would drift; here the
teacher is in eval mode for good and runs under ``torch.no_grad()``.

The teacher sees the student's input: images normalised with the *student's* mean/std are
re-normalised to the teacher's own (e.g. mean = std = 0.5 for the EfficientNet-Lite0 ImageNet
checkpoint). Its patch tokens are returned on the *student's* patch grid (stride 16 by default):
when the teacher's grid differs (another stride, or an input resized to fit its stride) the map
is resized bilinearly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from saip.backbones.output import BackboneOutput
from saip.teachers.cache import TeacherFeatureCache
from saip.teachers.fold_batchnorm import fold_batchnorm


def _as_buffer(values: Sequence[float], name: str) -> torch.Tensor:
    tensor = torch.as_tensor([float(v) for v in values], dtype=torch.float32)
    if tensor.shape != (3,):
        raise ValueError(f"teacher {name} must have 3 values, got {list(values)}")
    if name.endswith("std") and bool((tensor <= 0).any()):
        raise ValueError(f"teacher {name} must be > 0, got {list(values)}")
    return tensor.view(1, 3, 1, 1)


class FrozenTeacher(nn.Module):
    """Wrap a saip backbone (``forward(images) -> BackboneOutput``) as a frozen target network.

    Args:
        backbone: a :class:`saip.backbones.Backbone` (or anything with the same output).
        mean, std: normalisation the teacher was trained with.
        input_mean, input_std: normalisation of the images it will be given (the student's).
        student_stride: stride of the student's patch grid the tokens are returned on.
        cache_size: > 0 enables a :class:`TeacherFeatureCache` of that many images.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        input_mean: Sequence[float] = (0.485, 0.456, 0.406),
        input_std: Sequence[float] = (0.229, 0.224, 0.225),
        student_stride: int = 16,
        cache_size: int = 0,
    ) -> None:
        super().__init__()
        # channels-last (NHWC) weights and inputs: oneDNN's convolutions, depthwise ones above all,
        # run faster on it (EfficientNet-Lite0 expert forward 84 -> 47 ms on 2 CPU cores, bf16)
        self.backbone = backbone.to(memory_format=torch.channels_last)
        self.embed_dim: int = int(backbone.embed_dim)
        self.stride: int = int(getattr(backbone, "stride", 16))
        self.student_stride = int(student_stride)
        mean_t, std_t = _as_buffer(mean, "mean"), _as_buffer(std, "std")
        in_mean, in_std = _as_buffer(input_mean, "input mean"), _as_buffer(input_std, "input std")
        # teacher_input = images * scale + shift  ==  (images * in_std + in_mean - mean) / std
        self.register_buffer("scale", in_std / std_t, persistent=False)
        self.register_buffer("shift", (in_mean - mean_t) / std_t, persistent=False)
        self.cache = TeacherFeatureCache(cache_size) if cache_size > 0 else None
        self.info = None  # a saip.teachers.TeacherInfo when built by build_teacher
        self.requires_grad_(False)
        super().train(False)
        # The inference copy with BatchNorm folded into the convolutions (fold_batchnorm), rebuilt
        # from the teacher's own weights after load_state_dict or a move (.to); it is never part
        # of the state dict, so checkpoints keep the teacher's weights and keys as they are.
        self._folded: list[nn.Module] = []  # a list keeps the copy out of the registered modules
        self._refold()
        self.register_load_state_dict_post_hook(lambda module, _keys: module._refold())

    def _refold(self) -> None:
        folded, count = fold_batchnorm(self.backbone)
        self._folded[:] = [folded.to(memory_format=torch.channels_last) if count else self.backbone]

    def _apply(self, fn, recurse=True):
        module = super()._apply(fn, recurse)
        if hasattr(self, "_folded"):  # .to(device / dtype): fold the moved weights again
            self._refold()
        return module

    @property
    def inference_backbone(self) -> nn.Module:
        """The backbone with BatchNorm folded into its convolutions (same function, fewer ops)."""
        return self._folded[0]

    def train(self, mode: bool = True) -> FrozenTeacher:
        """A frozen teacher stays in eval mode (BatchNorm statistics and dropout fixed)."""
        return super().train(False)

    def renormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Student-normalised images ``(B, 3, H, W)`` -> teacher-normalised, resized to its stride."""
        x = images * self.scale.to(images.dtype) + self.shift.to(images.dtype)
        H, W = x.shape[-2:]
        h, w = max(1, round(H / self.stride)) * self.stride, max(1, round(W / self.stride)) * self.stride
        if (h, w) != (H, W):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        return x

    def _encode(self, images: torch.Tensor, grid_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.inference_backbone(self.renormalize(images).contiguous(memory_format=torch.channels_last))
        tokens = out.patch_tokens
        if tuple(out.grid_size) != tuple(grid_size):
            b, _, d = tokens.shape
            fmap = tokens.transpose(1, 2).reshape(b, d, *out.grid_size)
            fmap = F.interpolate(fmap, size=grid_size, mode="bilinear", align_corners=False)
            tokens = fmap.flatten(2).transpose(1, 2)
        return out.image_token, tokens

    @torch.no_grad()
    def forward(
        self,
        images: torch.Tensor,
        grid_size: tuple[int, int] | None = None,
        keys: Sequence[Hashable] | None = None,
    ) -> BackboneOutput:
        """Targets for ``images`` ``(B, 3, H, W)`` (normalised like the student's input).

        Returns a :class:`BackboneOutput` (float32 ``image_token (B, Dt)``, ``patch_tokens
        (B, h*w, Dt)`` on ``grid_size``), so a frozen teacher can stand wherever a saip backbone's
        output is expected (e.g. the SAIP* expert).

        Args:
            grid_size: patch grid to return the tokens on; default the student's ``(H/s, W/s)``.
            keys: one hashable per image identifying its content (for the cache); ignored
                without a cache.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"teacher input must be (B, 3, H, W), got {tuple(images.shape)}")
        H, W = images.shape[-2:]
        grid = (
            tuple(grid_size)
            if grid_size is not None
            else (H // self.student_stride, W // self.student_stride)
        )
        if self.cache is None or keys is None:
            image_token, tokens = self._encode(images, grid)
            return BackboneOutput(image_token.float(), tokens.float(), grid)
        if len(keys) != images.shape[0]:
            raise ValueError(f"got {len(keys)} cache keys for {images.shape[0]} images")
        cached = [self.cache.get(key, grid) for key in keys]
        todo = [i for i, entry in enumerate(cached) if entry is None]
        if todo:
            image_token, tokens = self._encode(images[todo], grid)
            for j, i in enumerate(todo):
                entry = (image_token[j].float(), tokens[j].float())
                self.cache.put(keys[i], entry[0], entry[1], grid)
                cached[i] = entry
        return BackboneOutput(torch.stack([c[0] for c in cached]), torch.stack([c[1] for c in cached]), grid)
