"""Typed configuration of a pretraining run (structured OmegaConf over dataclasses).

Every field has a type and a default; unknown keys and wrongly typed values are rejected with
the offending dotted key named (see :mod:`saip.config.load`). Values here are the *tiny CPU
recipe*; the paper recipes live in ``saip/configs/*.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    backbone: str = "vit_tiny"  # saip alias or any timm model name
    img_size: list[int] = field(default_factory=lambda: [256, 128])  # ViT pos-embed grid (H, W)
    drop_path: float = 0.0
    weights: str | None = None  # optional initial weights for the student


@dataclass
class DataConfig:
    root: str | None = None  # folder of person images; None = embedded synthetic persons
    shards: str | None = None  # WebDataset tar shards instead of a folder (saip.data.shard_source)
    rescan: bool = False  # walk data.root again instead of using its cached file index
    file_list: str | None = None
    synthetic_identities: int = 400
    synthetic_images_per_id: int = 8
    # Capture domains (background style, colour cast) of the embedded synthetic persons: image
    # ``frame`` of identity ``pid`` is taken by camera ``(pid + frame) % synthetic_cameras``.
    synthetic_cameras: int = 6
    num_workers: int = 2
    # Paper recipes set this: training them on the embedded synthetic persons warns loudly.
    needs_real_data: bool = False
    # Overrides of saip.data.SAIPViewConfig (unknown keys rejected there), e.g. {"n_local": 4}.
    views: dict[str, Any] = field(default_factory=dict)
    # Where the views are built (saip.data.device_views): "loader" = Pillow in the DataLoader workers
    # (the reference), "device" = workers only decode, views batched on train.device, "auto" = device
    # on CUDA, loader on CPU.
    view_device: str = "auto"
    # Device path: (H, W) the workers resize every image to so they stack; None = views.global_size.
    decode_size: list[int] | None = None


@dataclass
class ObjectivesConfig:
    """Loss weights (0 switches an objective off entirely) and decoder shapes (method.md §1)."""

    csm_weight: float = 1.0
    csr_weight: float = 1.0
    css_weight: float = 1.0
    attention_kl_weight: float = 0.0  # reference code's extra CSM term
    koleo_weight: float = 0.0  # DINOv2's KoLeo spread term on the global image tokens (0.1 there)
    csm_out_dim: int = 65536
    csm_hidden_dim: int = 2048
    csm_bottleneck_dim: int = 256
    student_temp: float = 0.1
    teacher_temp: float = 0.04
    teacher_temp_start: float = 0.04  # warm-up start (DINO: 0.04 -> 0.07)
    teacher_temp_warmup_fraction: float = 0.0
    center_momentum: float = 0.9
    csm_centering: str = "center"  # center (DINO) | sinkhorn (DINOv2 Sinkhorn-Knopp teacher targets)
    csr_depth: int = 6
    csr_dim: int = 256
    csr_heads: int = 8
    css_hidden_dim: int = 256
    css_heads: int = 8
    css_dice_weight: float = 0.0
    feature_patch_weight: float = 1.0  # frozen expert: weight of patch-token matching in CSM
    # frozen expert, one of FEATURE_PAIRINGS: "same" = each student view vs the expert on the same
    # content (rescaled copies vs their source view); "cross" = every student view vs each global
    # expert view (DINO pairing)
    feature_pairing: str = "same"


@dataclass
class ExpertConfig:
    kind: str = "ema"  # ema | frozen
    momentum_start: float = 0.996
    momentum_end: float = 1.0
    teacher: str | None = None  # frozen: timm name, checkpoint path, saip run, efficientnet_lite0_imagenet
    teacher_img_size: list[int] | None = None


@dataclass
class DPALConfig:
    """DPAL (method.md §2); fields mirror :class:`saip.methods.dpal.DPALMethodConfig`."""

    mode: str = "dpade"  # dpade | feature (cosine feature-distillation baseline)
    global_weight: float = 1.0
    local_weight: float = 1.0
    relation_weight: float = 1.0
    routing_weight_start: float = 0.1
    routing_weight_end: float = 0.01
    routing_switch_progress: float = 0.1
    rank: int = 32
    decoder_heads: int = 4
    expert_norm_weight: float = 0.0
    max_local_views: int | None = None
    person_weight_floor: float = 0.1
    person_weight_smooth: bool = False
    person_weight_sign: str = "center"
    feature_patch_weight: float = 1.0


@dataclass
class TrainConfig:
    epochs: int = 1
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 32  # per process, per micro-step
    accum_steps: int = 1
    base_lr: float = 2.5e-4  # lr = base_lr * global_batch / 256
    min_lr: float = 0.0
    warmup_fraction: float = 0.033  # of total optimizer steps (paper: 10 of 300 epochs)
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    clip_grad: float | None = 3.0
    amp: str = "auto"  # auto | native | bf16 | fp16 | off (saip.pretrain.precision)
    compile: bool = False
    compile_mode: str | None = None  # torch.compile mode; reduce-overhead = CUDA graphs (COMPILE_MODES)
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 200
    keep_checkpoints: int = 1  # > 1 also keeps checkpoints/step_XXXXXXXX.pt of the last N saves
    stop_on_collapse: bool = True


@dataclass
class ProbeConfig:
    enabled: bool = True
    data: str | None = None  # Market-style folder; None = held-out synthetic identities
    every: int = 0  # optimizer steps between probes during training (0 = only at the end)


@dataclass
class RunConfig:
    out: str = "runs/saip"
    method: str = "saip"  # saip | saip_star | dpal
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objectives: ObjectivesConfig = field(default_factory=ObjectivesConfig)
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    dpal: DPALConfig = field(default_factory=DPALConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)


METHODS = ("saip", "saip_star", "dpal")
EXPERT_KINDS = ("ema", "frozen")
AMP_MODES = ("auto", "native", "bf16", "fp16", "off")  # saip.pretrain.precision
FEATURE_PAIRINGS = ("same", "cross")
CSM_CENTERINGS = ("center", "sinkhorn")  # objectives.csm_centering (saip.objectives.csm)
VIEW_DEVICES = ("auto", "loader", "device")  # data.view_device
# train.compile_mode (torch.compile modes)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Keys a resumed run may change (``saip pretrain --resume``): they do not alter the training it
# continues. A key ending in "." admits every key below it.
RESUME_SAFE_KEYS = (
    "train.max_steps",
    "train.epochs",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.device",
    "train.stop_on_collapse",
    "data.root",
    "data.shards",
    "data.rescan",
    "data.file_list",
    "data.num_workers",
    "probe.",
    "out",
)
