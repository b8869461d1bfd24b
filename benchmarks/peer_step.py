"""A peer's DINO step vs saip's steps, same machine, same shapes, measured alternately in one run.

The peer is a DINO step assembled from lightly's building blocks, as lightly's DINO example does:
timm ViT-Tiny (``dynamic_img_size``) student and EMA teacher, ``DINOProjectionHead`` (2048 hidden,
256 bottleneck, K = 65,536 prototypes), ``DINOLoss`` (teacher on the 2 global views, student on all
views), AdamW, ``update_momentum`` for backbone and head. Views: 2 × 256×128 + 8 × 128×64, batch 16.
The saip steps use the paper recipe's views at the same batch: ``csm_only`` (with the recipe's 2
rescaled copies), ``csm_as_dino`` (no rescaled copies: exactly the peer's views) and the full SAIP step
(CSM + CSR + CSS). ``default_run`` is one step of ``saip pretrain``'s default recipe (``cpu_demo``, its
own batch of 32 and its own ``train.amp``): issue 13 measures command 1 of the README against 75 lightly
steps, and its ``train.max_steps`` times this ratio is the training part of that yardstick (measured on
the CPU only, where command 1 runs). Each round times every config for ``--steps`` steps in turn, so a
busy machine slows them alike; the medians and the ratios to the peer are printed, next to each step's
work (GFLOP of one step's matmuls and convolutions, ``FlopCounterMode``) as a ratio to the peer's: a
step that does twice the peer's work cannot take less than about twice its time at the same FLOP rate.
Needs the optional benchmark extra: ``pip install -c constraints/cpu.txt -e ".[bench]"``. Usage::

    python benchmarks/peer_step.py --device cpu --rounds 3 --steps 2

Writes ``benchmarks/results/peer_step-<device>.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import saip  # noqa: F401  (installs the torchvision shim before lightly imports torchvision)
from saip.config import load_config
from saip.pretrain.precision import autocast_context
from throughput import build_step, images_per_second

SAIP_CONFIGS = {
    "saip_csm_only": ["objectives.csr_weight=0", "objectives.css_weight=0"],
    "saip_csm_as_dino": ["objectives.csr_weight=0", "objectives.css_weight=0", "data.views.n_scaled=0"],
    "saip_full": [],
}


class _Student(torch.nn.Module):
    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def lightly_dino_step(batch: int, device: torch.device, amp: str, out_dim: int = 65536):
    """``step()``: one lightly DINO optimizer step on fixed random views of the peer's shapes."""
    import timm
    from lightly.loss import DINOLoss
    from lightly.models.modules import DINOProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    backbone = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=(256, 128), dynamic_img_size=True
    )
    student = _Student(backbone, DINOProjectionHead(192, 2048, 256, out_dim, freeze_last_layer=1)).to(device)
    # as lightly's DINO example: a deep copy of the backbone, a new head (its weight-normed layer
    # cannot be deep-copied) loaded with the student's weights
    teacher = _Student(copy.deepcopy(backbone), DINOProjectionHead(192, 2048, 256, out_dim)).to(device)
    teacher.head.load_state_dict(student.head.state_dict())
    deactivate_requires_grad(teacher)
    criterion = DINOLoss(output_dim=out_dim, warmup_teacher_temp_epochs=0).to(device)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.05)
    globals_ = [torch.randn(batch, 3, 256, 128, device=device) for _ in range(2)]
    locals_ = [torch.randn(batch, 3, 128, 64, device=device) for _ in range(8)]

    def step() -> None:
        with autocast_context(amp, device):
            with torch.no_grad():
                teacher_out = [teacher(view) for view in globals_]
            student_out = [student(view) for view in globals_ + locals_]
            loss = criterion(teacher_out, student_out, epoch=0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        update_momentum(student, teacher, m=0.996)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="steps per config per round")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    steps = {"lightly_dino": lightly_dino_step(args.batch, device, args.amp)}
    for name, overrides in SAIP_CONFIGS.items():
        cfg = load_config(
            "vit_tiny_paper", [f"train.batch_size={args.batch}", "probe.enabled=false", *overrides]
        )
        setup = build_step(cfg, device, args.amp)
        steps[name] = lambda setup=setup: setup.step(setup.batch)
    demo = load_config("cpu_demo", ["probe.enabled=false"])
    if device.type == "cpu":  # command 1's yardstick is a CPU one (and its frozen Lite0 a CPU teacher)
        demo_setup = build_step(demo, device, demo.train.amp)
        steps["default_run"] = lambda: demo_setup.step(demo_setup.batch)
    gflop = {}  # the work of one step (forward + backward; matmuls and convolutions), also the warm-up
    for name, step in steps.items():
        with FlopCounterMode(display=False) as counter:
            step()
        gflop[name] = counter.get_total_flops() / 1e9
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(args.rounds):
        for name, step in steps.items():
            times[name].append(1.0 / images_per_second(step, args.steps, 1, device))  # s/step
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()), flush=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    peer = medians["lightly_dino"]
    for name, seconds in medians.items():
        print(
            f"{name:18s} {seconds:7.3f} s/step  {seconds / peer:5.2f}x the lightly DINO step  "
            f"{gflop[name]:6.1f} GFLOP/step = {gflop[name] / gflop['lightly_dino']:4.2f}x its work, "
            f"{gflop[name] / seconds:6.1f} GFLOP/s"
        )
    demo_steps = demo.train.max_steps
    if "default_run" in medians:
        print(
            f"default run: {demo_steps} steps x {medians['default_run']:.3f} s = "
            f"{demo_steps * medians['default_run'] / peer:.0f}x the lightly DINO step (training only, "
            f"train.amp={demo.train.amp})"
        )
    machine = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    result = {
        "machine": machine,
        "torch": torch.__version__,
        "args": vars(args),
        "seconds_per_step": times,
        "median_seconds_per_step": medians,
        "ratio_to_lightly_dino": {name: s / peer for name, s in medians.items()},
        "gflop_per_step": gflop,
        "work_ratio_to_lightly_dino": {name: g / gflop["lightly_dino"] for name, g in gflop.items()},
        "default_run_training_vs_lightly_step": demo_steps * medians["default_run"] / peer
        if "default_run" in medians
        else None,
    }
    out = Path(args.out or f"benchmarks/results/peer_step-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
