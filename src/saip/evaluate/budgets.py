"""Named compute budgets for the downstream protocols.

A budget fixes, per task, the protocol variant and how much data and optimisation it uses, so that
``saip eval all --budget quick`` runs every task in CPU minutes and ``--budget paper`` follows the
published recipes. Presets:

* ``quick`` (CPU, under 20 minutes for all nine tasks on 2 cores): a frozen backbone everywhere (kNN
  ReID, linear attribute probe, text-to-image retrieval on frozen image tokens), and for the dense
  tasks heads trained on cached features (:mod:`saip.evaluate.heads.cached_fit`; top-down pose and
  landmarks on cached crops and their mirrors), so that the CPU minutes go to head updates rather than
  repeated backbone passes; small inputs and a few hundred images per split. Chosen so that the
  ImageNet EfficientNet-Lite0 beats its own random init on every task (README "Evaluation"): it ranks
  pretrainings by what their frozen features hold, not by how well they fine-tune.
* ``standard`` (CPU tens of minutes / GPU minutes): short fine-tuning at 256×128 (TransReID-style
  ReID with BNNeck + ID + triplet, attribute fine-tuning with weighted BCE), capped image counts.
* ``paper`` (GPU hours): the reference recipes of the SAIP downstream code (reference-code.md §1.12):
  ReID 120 epochs, AdamW 2e-4, 16 ids × 4 images, 20 warm-up epochs, 256×128; attributes 30 epochs,
  AdamW 1e-4, batch 64; all images.

``epochs`` (when set) overrides ``steps``: ``steps = ceil(epochs · n_train / batch_size)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TaskBudget:
    """How one task is run under a budget.

    Attributes:
        protocol: task-specific variant (reid: ``knn``/``finetune``; attributes: ``linear``/``finetune``;
            dense tasks: ``frozen``/``finetune`` as their module defines).
        img_size: input ``(H, W)``; ``None`` = the backbone's own size.
        steps: optimisation steps (ignored by frozen kNN; overridden by ``epochs``).
        epochs: passes over the training set, or ``None`` to use ``steps``.
        batch_size: training batch size (ReID: ``p × k`` with ``k = 4``).
        lr: peak fine-tuning learning rate (AdamW, linear warm-up then cosine); the linear probe on
            frozen, standardised features uses its own fixed rate.
        warmup_steps: warm-up length; a float < 1 is read as a fraction of the steps.
        max_train_images: cap on training images (``None`` = all).
        max_eval_images: cap on evaluation images per split (``None`` = all).
        train_crop: random training crop ``(H, W)`` taken from the resized input (``None`` = the
            whole input); used by the multi-person parsing task, evaluated on whole images.
        feature_passes: with protocol ``frozen``, the dense tasks compute the backbone's features of
            this many augmented passes over the training set once and train the head on them
            (:mod:`saip.evaluate.heads.cached_fit`); ``None`` = a backbone pass every step.
    """

    protocol: str
    img_size: tuple[int, int] | None
    steps: int
    batch_size: int
    lr: float
    warmup_steps: float = 0.1
    epochs: float | None = None
    max_train_images: int | None = None
    max_eval_images: int | None = None
    train_crop: tuple[int, int] | None = None
    feature_passes: int | None = None

    def total_steps(self, num_train: int) -> int:
        """Number of optimisation steps for a training set of ``num_train`` images."""
        if self.epochs is not None:
            return max(1, math.ceil(self.epochs * num_train / self.batch_size))
        return self.steps

    def warmup(self, total_steps: int) -> int:
        """Warm-up length in steps."""
        if self.warmup_steps < 1:
            return int(self.warmup_steps * total_steps)
        return int(min(self.warmup_steps, total_steps))

    def lr_at(self, step: int, total_steps: int) -> float:
        """Learning rate at ``step`` (0-based): linear warm-up to ``lr``, then cosine decay to 0
        (the TransReID schedule, per step instead of per epoch)."""
        warmup = self.warmup(total_steps)
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * min(1.0, progress)))


# Quick dense tasks: the backbone frozen and the head trained on cached features of a few augmented
# passes over the training set (heads/cached_fit.py; pose/landmarks: crops and their mirrors), so
# that the CPU minutes go to head updates instead of repeated backbone passes.
_QUICK_POSE = TaskBudget(
    "frozen", (128, 96), steps=1000, batch_size=16, lr=3e-3, max_train_images=800, max_eval_images=200
)
_QUICK_PARSING = TaskBudget(
    "frozen",
    (256, 128),
    steps=300,
    batch_size=16,
    lr=3e-3,
    max_train_images=400,
    max_eval_images=200,
    feature_passes=2,
)
_QUICK_DETECTION = TaskBudget(
    "frozen", None, steps=300, batch_size=8, lr=3e-3, max_eval_images=24, feature_passes=4
)
_STANDARD_DENSE = TaskBudget(
    "finetune", None, steps=400, batch_size=16, lr=5e-4, max_train_images=2000, max_eval_images=500
)
# Multi-person parsing / attribute parsing on scenes. Quick: the backbone frozen and the head trained
# on cached features of 4 augmented passes (random crops) over the training scenes; mhp evaluates
# the 384×512 scenes upscaled to 576×768 and trains on random 192×256 crops of them, since at the
# scenes' own size the parts of small persons fall below the stride-16 grid; pap letterboxes them to
# 512² and trains on 256² crops (at 768² the crops held too few garments: box AP50 0.6 vs 1.6).
# More head steps did not help either (600 / 800 steps: mhp AP^p_vol 2.5, pap box AP50 1.4).
_QUICK_MHP = TaskBudget(
    "frozen",
    (576, 768),
    steps=400,
    batch_size=8,
    lr=3e-3,
    max_train_images=96,
    max_eval_images=24,
    train_crop=(192, 256),
    feature_passes=4,
)
_QUICK_PAP = TaskBudget(
    "frozen",
    (512, 512),
    steps=400,
    batch_size=8,
    lr=3e-3,
    max_train_images=96,
    max_eval_images=24,
    train_crop=(384, 384),  # the near persons of the pap scenes are 270-384 px tall
    feature_passes=4,
)
_STANDARD_MHP = TaskBudget(
    "finetune", (288, 384), steps=600, batch_size=16, lr=1e-3, max_train_images=2000, max_eval_images=500
)
_STANDARD_PAP = TaskBudget(
    "finetune", (384, 384), steps=600, batch_size=16, lr=1e-3, max_train_images=2000, max_eval_images=500
)

BUDGETS: dict[str, dict[str, TaskBudget]] = {
    "quick": {
        "reid": TaskBudget(
            "knn",
            (128, 64),
            steps=60,
            batch_size=32,
            lr=3.5e-4,
            warmup_steps=10,
            max_train_images=1000,
            max_eval_images=800,
        ),
        "attributes": TaskBudget(
            "linear",
            (128, 64),
            steps=300,
            batch_size=32,
            lr=1e-4,
            warmup_steps=10,
            max_train_images=1200,
            max_eval_images=400,
        ),
        "pose": _QUICK_POSE,
        "parsing": _QUICK_PARSING,
        "detection": _QUICK_DETECTION,
        "mhp": _QUICK_MHP,
        "pap": _QUICK_PAP,
        "t2i": TaskBudget(
            "frozen",
            (128, 64),
            steps=600,
            batch_size=32,
            lr=2e-4,
            warmup_steps=20,
            max_train_images=800,
            max_eval_images=400,
        ),
        "landmarks": TaskBudget(
            "frozen",
            (128, 96),
            steps=1000,
            batch_size=16,
            lr=3e-3,
            max_train_images=800,
            max_eval_images=200,
        ),
    },
    "standard": {
        "reid": TaskBudget(
            "finetune",
            (256, 128),
            steps=300,
            batch_size=32,
            lr=2e-4,
            warmup_steps=30,
            max_train_images=4000,
            max_eval_images=3000,
        ),
        "attributes": TaskBudget(
            "finetune",
            (256, 128),
            steps=300,
            batch_size=32,
            lr=1e-4,
            warmup_steps=30,
            max_train_images=4000,
            max_eval_images=2000,
        ),
        "pose": _STANDARD_DENSE,
        "parsing": _STANDARD_DENSE,
        "detection": _STANDARD_DENSE,
        "mhp": _STANDARD_MHP,
        "pap": _STANDARD_PAP,
        "t2i": TaskBudget(
            "finetune",
            (256, 128),
            steps=2000,
            batch_size=64,
            lr=1e-4,
            warmup_steps=100,
            max_train_images=20000,
            max_eval_images=3000,
        ),
        "landmarks": TaskBudget(
            "finetune",
            (256, 192),
            steps=400,
            batch_size=16,
            lr=5e-4,
            max_train_images=2000,
            max_eval_images=500,
        ),
    },
    "paper": {
        "reid": TaskBudget(
            "finetune", (256, 128), steps=0, epochs=120, batch_size=64, lr=2e-4, warmup_steps=20 / 120
        ),
        "attributes": TaskBudget(
            "finetune", (256, 128), steps=0, epochs=30, batch_size=64, lr=1e-4, warmup_steps=0.0
        ),
        "pose": TaskBudget("finetune", (256, 192), steps=0, epochs=210, batch_size=64, lr=5e-4),
        "parsing": TaskBudget("finetune", (576, 384), steps=0, epochs=150, batch_size=24, lr=7e-4),
        "detection": TaskBudget("finetune", None, steps=0, epochs=30, batch_size=16, lr=1e-4),
        # CIHP: SCHP/CE2P-style 512x512 inputs, 150 epochs; Fashionpedia: 1024-px inputs as
        # Attribute-Mask R-CNN, 24 epochs (a 2x detectron schedule).
        "mhp": TaskBudget("finetune", (512, 512), steps=0, epochs=150, batch_size=16, lr=7e-4),
        "pap": TaskBudget("finetune", (1024, 1024), steps=0, epochs=24, batch_size=16, lr=1e-4),
        # IRRA: 60 epochs, batch 64, lr 1e-5 (new modules 5x), 5 warm-up epochs, cosine, 384x128.
        "t2i": TaskBudget(
            "finetune", (384, 128), steps=0, epochs=60, batch_size=64, lr=1e-5, warmup_steps=5 / 60
        ),
        # ViTPose whole-body: the pose recipe (210 epochs, 256x192) with 133 heatmaps.
        "landmarks": TaskBudget("finetune", (256, 192), steps=0, epochs=210, batch_size=64, lr=5e-4),
    },
}


def get_budget(name: str, task: str, protocol: str | None = None) -> TaskBudget:
    """The budget of ``task`` under preset ``name``, with an optional protocol override."""
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; choose from {', '.join(BUDGETS)}")
    if task not in BUDGETS[name]:
        raise ValueError(f"budget {name!r} has no task {task!r}; tasks: {', '.join(BUDGETS[name])}")
    budget = BUDGETS[name][task]
    return replace(budget, protocol=protocol) if protocol else budget
