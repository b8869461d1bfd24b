"""Training-step throughput and peak memory: full SAIP step vs CSM-only (DINO) step, per backbone.

Runs real optimizer steps (forward, backward, AdamW, EMA update). Two measurements per config:

* **step-only**: one batch built by the real view pipeline, moved to the device once and reused, so
  data loading is not measured;
* **end to end** (``--end-to-end``): the training loader as ``saip pretrain`` builds it
  (``data.view_device``, ``--workers`` DataLoader processes, JPEGs decoded from disk: ``--data DIR`` or
  synthetic persons written to a temporary folder first), each batch moved to the device and, on the
  device path, turned into views there. The loader alone is timed too, and the row says which of
  the two (step or loader) bounds the run.

FLOPs: one step's forward + backward is counted with ``torch.utils.flop_counter.FlopCounterMode``
(matmuls and convolutions, the ops that dominate; element-wise ops are not counted), printed as
GFLOP per sample; on a GPU the achieved FLOP/s is also given as MFU against the device's bf16 dense
peak (a table of known GPUs, or ``--peak-tflops``). Usage::

    python benchmarks/throughput.py --device cpu --batch 16 --steps 5            # CPU
    python benchmarks/throughput.py --device cuda --batch 256 --steps 20 --amp bf16 --end-to-end --workers 8

Prints a table and writes ``benchmarks/results/throughput-<device>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch._dynamo.utils import counters
from torch.utils.data import DataLoader, RandomSampler
from torch.utils.flop_counter import FlopCounterMode

import saip  # noqa: F401
from saip.config import load_config
from saip.methods.base import ScheduleValues
from saip.pretrain.builder import build_method, build_source, build_view_config, build_view_pipeline
from saip.pretrain.compile import compile_step_model, compiled_schedule
from saip.pretrain.optim import build_optimizer, fused_adamw_available
from saip.pretrain.precision import autocast_context

PRESETS = {"saip": [], "csm_only": ["objectives.csr_weight=0", "objectives.css_weight=0"]}
# bf16 dense tensor-core peak, TFLOP/s (vendor datasheets, no sparsity), matched by name substring
BF16_PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
    "RTX A6000": 154.8,
    "A6000": 154.8,
    "4090": 165.2,
}


def bf16_peak_flops(device: torch.device, override_tflops: float | None) -> float | None:
    """The device's bf16 dense peak in FLOP/s (``None`` on the CPU or for an unknown GPU)."""
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tf * 1e12 for key, tf in BF16_PEAK_TFLOPS.items() if key in name), None)


def write_person_jpegs(folder: Path, count: int, size: tuple[int, int]) -> Path:
    """``count`` synthetic person images as JPEG files (the end-to-end loader decodes from disk)."""
    from saip.synth import SyntheticPersonDataset

    persons = SyntheticPersonDataset(
        identities=max(1, count // 8), images_per_id=8, seed=0, size=size, labels=False
    )
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = persons[i % len(persons)]
        image = image["image"] if isinstance(image, dict) else image
        image.save(folder / f"{i:06d}.jpg", quality=90)
    return folder


def _config(backbone: str, preset: str, args, data: Path | None):
    overrides = [
        f"model.backbone={backbone}",
        f"train.batch_size={args.batch}",
        "probe.enabled=false",
        f"data.view_device={args.view_device}",
        *PRESETS[preset],
    ]
    if data is not None:
        overrides.append(f"data.root={data}")
    return load_config(args.recipe, overrides)


def images_per_second(fn, n: int, batch: int, device: torch.device) -> float:
    """Images per second of ``n`` calls of ``fn`` on batches of ``batch`` (after the caller's warm-up)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * n / (time.perf_counter() - start)


@dataclass
class StepSetup:
    """One run config's training step: ``step(batch)`` is a real optimizer step (forward, backward,
    AdamW, EMA update) as ``saip pretrain`` makes it; ``batch`` one batch of real views on the device;
    ``to_views`` turns a loader batch into such a batch."""

    step: Callable[[Any], None]
    batch: Any
    method: torch.nn.Module
    sched: ScheduleValues
    dataset: Any
    collate: Callable
    to_views: Callable[[Any], Any]


def build_step(
    cfg, device: torch.device, amp: str, compile: bool = False, compile_options: dict | None = None
) -> StepSetup:
    """The :class:`StepSetup` of run config ``cfg`` on ``device``; ``compile`` compiles the method as
    ``train.compile=true`` does (static graphs per rescale bucket), with ``compile_options`` for
    ``torch.compile`` (``backend``, ``mode="reduce-overhead"``: CUDA graphs)."""
    views = build_view_config(cfg)
    dataset, collate, transform = build_view_pipeline(cfg, build_source(cfg), views, device)

    def to_views(batch):
        batch = batch.to(device, non_blocking=True)
        return transform(batch) if transform is not None else batch

    fixed = to_views(collate([dataset[i] for i in range(cfg.train.batch_size)]))
    method = build_method(cfg).to(device)
    opt = build_optimizer(method, 1e-4, 0.05, (0.9, 0.95), fused=fused_adamw_available(device))
    model = compile_step_model(method, views, **(compile_options or {})) if compile else method
    sched = ScheduleValues(0, 100, 1e-4, 0.05, 0.996, 0.04, 0.0)

    def step(batch) -> None:
        # as the loop: a compiled step gets the schedule's read floats as tensors, made every step
        step_sched = compiled_schedule(sched, device) if compile else sched
        with autocast_context(amp, device):
            out = model(batch, step_sched)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        method.update_expert(sched)

    return StepSetup(step, fixed, method, sched, dataset, collate, to_views)


def count_step_flops(method, batch, sched, amp: str, device: torch.device) -> int:
    """FLOPs of one forward + backward of ``method`` on ``batch`` (``FlopCounterMode``: matmuls and
    convolutions); the gradients it leaves are cleared and the expert updated as after a step, so that
    the method's state between steps (the CSM centre's pending batch) is what a compiled step expects
    (left pending, it made the first timed step of a compiled method recompile)."""
    with FlopCounterMode(display=False) as counter:
        with autocast_context(amp, device):
            out = method(batch, sched)
        out.loss.backward()
    method.zero_grad(set_to_none=True)
    method.update_expert(sched)
    return counter.get_total_flops()


def measure(backbone: str, preset: str, args, data: Path | None = None) -> dict:
    device = torch.device(args.device)
    cfg = _config(backbone, preset, args, data)
    compile_options = {"backend": args.compile_backend}
    if args.compile_mode:
        compile_options["mode"] = args.compile_mode
    setup = build_step(cfg, device, args.amp, args.compile, compile_options)
    step, fixed, method, dataset, collate, to_views = (
        setup.step,
        setup.batch,
        setup.method,
        setup.dataset,
        setup.collate,
        setup.to_views,
    )
    flops_per_sample = count_step_flops(method, fixed, setup.sched, args.amp, device) / args.batch
    graphs_before = counters["stats"]["unique_graphs"]
    for _ in range(args.warmup):
        step(fixed)
    graphs_after_warmup = counters["stats"]["unique_graphs"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step_rate = images_per_second(lambda: step(fixed), args.steps, args.batch, device)
    row = {
        "backbone": backbone,
        "preset": preset,
        "view_device": args.view_device,
        "images_per_s": step_rate,
        "step_ms": 1000 * args.batch / step_rate,
        "gflop_per_sample": flops_per_sample / 1e9,
        "achieved_tflops": flops_per_sample * step_rate / 1e12,
    }
    if args.compile:  # dynamo's counters: graphs traced in warm-up, and any recompile after it
        row["graphs_compiled_in_warmup"] = graphs_after_warmup - graphs_before
        row["recompiles_after_warmup"] = counters["stats"]["unique_graphs"] - graphs_after_warmup
    peak = bf16_peak_flops(device, args.peak_tflops)
    if peak:
        row["mfu"] = flops_per_sample * step_rate / peak
    if data is not None:
        loader = DataLoader(
            dataset,
            batch_size=args.batch,
            sampler=RandomSampler(dataset, replacement=True, num_samples=10**9),
            num_workers=args.workers,
            collate_fn=collate,
            drop_last=True,
            pin_memory=device.type == "cuda",
            prefetch_factor=4 if args.workers > 0 else None,
            persistent_workers=args.workers > 0,
        )
        batches = iter(loader)
        for _ in range(max(1, args.warmup)):
            step(to_views(next(batches)))
        row["end_to_end_images_per_s"] = images_per_second(
            lambda: step(to_views(next(batches))), args.steps, args.batch, device
        )
        for _ in range(4 * args.workers):  # drain what the workers prefetched during the steps
            next(batches)
        row["loader_images_per_s"] = images_per_second(
            lambda: to_views(next(batches)), args.steps, args.batch, device
        )
        row["bound_by"] = "loader" if row["loader_images_per_s"] < step_rate else "step"
        row["end_to_end_vs_step"] = row["end_to_end_images_per_s"] / step_rate
        del batches, loader
    row["peak_mem_mib"] = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    row["trainable_params_m"] = sum(p.numel() for p in method.parameters() if p.requires_grad) / 1e6
    return row


def _line(r: dict) -> str:
    text = (
        f"{r['backbone']:12s} {r['preset']:9s} {r['images_per_s']:9.1f} img/s step-only  "
        f"{r['step_ms']:8.1f} ms/step  {r['gflop_per_sample']:6.1f} GFLOP/sample (fwd+bwd)  "
        f"{r['achieved_tflops']:7.2f} TFLOP/s"
    )
    if "mfu" in r:
        text += f"  MFU {100 * r['mfu']:5.1f} %"
    if "end_to_end_images_per_s" in r:
        text += (
            f"  | end to end {r['end_to_end_images_per_s']:8.1f} img/s "
            f"({100 * r['end_to_end_vs_step']:.0f} % "
            f"of step-only), loader alone {r['loader_images_per_s']:8.1f} img/s: {r['bound_by']}-bound"
        )
    if "recompiles_after_warmup" in r:
        text += (
            f"  compiled: {r['graphs_compiled_in_warmup']} graph(s) in warm-up, "
            f"{r['recompiles_after_warmup']} recompile(s) after"
        )
    return text + f"  peak {r['peak_mem_mib']:8.0f} MiB  trainable {r['trainable_params_m']:.1f}M"


def _write(out: Path, machine: str, args, rows: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine, "torch": torch.__version__, "args": {**vars(args), "data": str(args.data)}}
    out.write_text(json.dumps({**result, "rows": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backbones", default="vit_tiny,starnet_s3,tiny_vit_5m")
    parser.add_argument("--presets", default=",".join(PRESETS), help="saip,csm_only")
    parser.add_argument("--recipe", default="vit_tiny_paper", help="recipe for views/decoders (input sizes)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--compile", action="store_true", help="compile the step as train.compile=true")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead")
    parser.add_argument("--compile-backend", default="inductor", help="eager: dynamo traces, no codegen")
    parser.add_argument("--view-device", default="auto", choices=("auto", "loader", "device"))
    parser.add_argument("--end-to-end", action="store_true", help="also time the loader from disk")
    parser.add_argument("--data", type=Path, default=None, help="image folder for --end-to-end")
    parser.add_argument("--images", type=int, default=2048, help="synthetic JPEGs written without --data")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers for --end-to-end")
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak for MFU")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    machine = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    out = Path(
        args.out or f"benchmarks/results/throughput-{device.type}{'-compile' if args.compile else ''}.json"
    )
    with tempfile.TemporaryDirectory(prefix="saip-throughput-") as tmp:
        data = None
        if args.end_to_end:
            data = args.data or write_person_jpegs(Path(tmp) / "persons", args.images, (256, 128))
        rows = []
        for backbone, preset in itertools.product(args.backbones.split(","), args.presets.split(",")):
            torch.manual_seed(0)
            rows.append(measure(backbone, preset, args, data))
            print(_line(rows[-1]), flush=True)
            _write(out, machine, args, rows)  # kept row by row: a time limit loses only the row it hits
    for backbone in args.backbones.split(","):
        by_preset = {r["preset"]: r for r in rows if r["backbone"] == backbone}
        if {"saip", "csm_only"} <= by_preset.keys():
            ratio = by_preset["csm_only"]["images_per_s"] / by_preset["saip"]["images_per_s"]
            print(f"{backbone}: SAIP step costs {ratio:.2f}x the CSM-only step")
    _write(out, machine, args, rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
