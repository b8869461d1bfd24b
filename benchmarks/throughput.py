"""Training-step throughput and peak memory: full SAIP step vs CSM-only (DINO) step, per backbone.

Runs real optimizer steps (forward, backward, AdamW, EMA update) on batches built by the real view
pipeline (collated once, reused, so data loading is not measured). Usage::

    python benchmarks/throughput.py --device cpu --batch 16 --steps 5            # CPU
    python benchmarks/throughput.py --device cuda --batch 128 --steps 20 --amp bf16 [--compile]

Prints a table and writes ``benchmarks/results/throughput-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import torch

import saip  # noqa: F401
from saip.config import load_config
from saip.data import SAIPCollate, ViewDataset
from saip.methods.base import ScheduleValues
from saip.pretrain.builder import build_method, build_source, build_view_config
from saip.pretrain.loop import autocast_context
from saip.pretrain.optim import build_optimizer

PRESETS = {"saip": [], "csm_only": ["objectives.csr_weight=0", "objectives.css_weight=0"]}


def measure(backbone: str, preset: str, args) -> dict:
    overrides = [
        f"model.backbone={backbone}",
        f"train.batch_size={args.batch}",
        "probe.enabled=false",
        *PRESETS[preset],
    ]
    cfg = load_config(args.recipe, overrides)
    views = build_view_config(cfg)
    dataset = ViewDataset(build_source(cfg), views, seed=0)
    batch = SAIPCollate(views, seed=0)([dataset[i] for i in range(args.batch)])
    device = torch.device(args.device)
    batch = batch.to(device)
    method = build_method(cfg).to(device)
    opt = build_optimizer(method, 1e-4, 0.05, (0.9, 0.95))
    model = torch.compile(method) if args.compile else method
    sched = ScheduleValues(0, 100, 1e-4, 0.05, 0.996, 0.04, 0.0)

    def step():
        with autocast_context(args.amp, device):
            out = model(batch, sched)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        method.update_expert(sched)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    trainable = sum(p.numel() for p in method.parameters() if p.requires_grad)
    return {
        "backbone": backbone,
        "preset": preset,
        "images_per_s": args.batch * args.steps / elapsed,
        "step_ms": 1000 * elapsed / args.steps,
        "peak_mem_mib": peak,
        "trainable_params_m": trainable / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backbones", default="vit_tiny,starnet_s3,tiny_vit_5m")
    parser.add_argument("--recipe", default="vit_tiny_paper", help="recipe for views/decoders (input sizes)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    machine = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    rows = []
    for backbone in args.backbones.split(","):
        for preset in PRESETS:
            if args.device == "cpu":  # peak RSS is per process: measure each config fresh when it matters
                torch.manual_seed(0)
            rows.append(measure(backbone, preset, args))
            r = rows[-1]
            print(
                f"{r['backbone']:12s} {r['preset']:9s} {r['images_per_s']:9.1f} img/s  "
                f"{r['step_ms']:8.1f} ms/step  "
                f"peak {r['peak_mem_mib']:8.0f} MiB  trainable {r['trainable_params_m']:.1f}M",
                flush=True,
            )
    for backbone in args.backbones.split(","):
        full = next(r for r in rows if r["backbone"] == backbone and r["preset"] == "saip")
        dino = next(r for r in rows if r["backbone"] == backbone and r["preset"] == "csm_only")
        print(
            f"{backbone}: SAIP step costs {dino['images_per_s'] / full['images_per_s']:.2f}x "
            "the CSM-only step"
        )
    result = {"machine": machine, "torch": torch.__version__, "args": vars(args), "rows": rows}
    out = Path(
        args.out
        or f"benchmarks/results/throughput-{args.device.split(':')[0]}"
        f"{'-compile' if args.compile else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
