"""Loader cost of the SAIP views: Pillow views in the workers vs decode-only + views on the device.

At the paper recipe's views (``vit_tiny_paper``: 2 global 256×128, 8 local 128×64, 2 rescaled copies,
CSR view 320×160, 224×224 canvas) on JPEG person crops, it measures

- the CPU time one DataLoader worker spends per sample (one thread, as in a worker): the loader
  path (``ViewDataset`` Pillow views + ``SAIPCollate``) vs the device path (``DecodedViewDataset``
  decode + parameter draws + ``DeviceViewCollate`` stacking);
- the time ``DeviceViewTransform`` takes per batch on ``--device`` (CPU: ``--threads`` threads).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/data_views.py [--samples 64] [--batch 32] [--device cpu|cuda]

Prints a table and writes ``benchmarks/results/data_views-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

import saip  # noqa: F401  (torchvision shim)
from saip.config import load_config
from saip.data import PersonImageFolder, SAIPCollate, ViewDataset
from saip.data.device_views import DecodedViewDataset, DeviceViewCollate, DeviceViewTransform
from saip.pretrain.builder import build_view_config
from saip.synth.dataset import SyntheticPersonDataset


def write_jpegs(folder: Path, count: int) -> None:
    """``count`` synthetic 256×128 persons as JPEG (quality 90), like a folder of LUPerson crops."""
    persons = SyntheticPersonDataset(identities=max(1, count // 4), images_per_id=4, seed=0, labels=False)
    for i in range(count):
        persons[i]["image"].save(folder / f"{i:05d}.jpg", quality=90)


def loader_cost(dataset, collate, samples: int, batch: int) -> tuple[float, float]:
    """CPU ms per sample of ``dataset[i]``, and of ``collate`` amortised over its batch."""
    item = collated = 0.0
    for first in range(0, samples - batch + 1, batch):
        start = time.process_time()
        items = [dataset[i] for i in range(first, first + batch)]
        middle = time.process_time()
        collate(items)
        item, collated = item + middle - start, collated + time.process_time() - middle
    count = samples // batch * batch
    return 1000 * item / count, 1000 * collated / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=64, help="samples timed per path")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for the device transform on CPU"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed device-transform batches")
    parser.add_argument("--out", type=Path, default=None, help="default: results/data_views-<device>.json")
    args = parser.parse_args()
    if args.samples < args.batch:
        parser.error(f"--samples ({args.samples}) must be at least --batch ({args.batch})")
    torch.set_num_threads(1)  # DataLoader workers run one thread each
    with tempfile.TemporaryDirectory() as tmp:
        write_jpegs(Path(tmp), args.samples)
        cfg = load_config("vit_tiny_paper", [f"data.root={tmp}"])
        views = build_view_config(cfg)
        source = PersonImageFolder(tmp)
        pil_item, pil_collate = loader_cost(
            ViewDataset(source, views), SAIPCollate(views), args.samples, args.batch
        )
        decoded = DecodedViewDataset(source, views)
        collate = DeviceViewCollate(views)
        dev_item, dev_collate = loader_cost(decoded, collate, args.samples, args.batch)
        raw = collate([decoded[i] for i in range(args.batch)])

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    transform = DeviceViewTransform(views)
    raw = raw.to(device)

    def run() -> None:
        transform(raw)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run()  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.repeats):
        run()
    wall = 1000 * (time.perf_counter() - wall) / args.repeats
    cpu = 1000 * (time.process_time() - cpu) / args.repeats
    result = {
        "samples": args.samples,
        "batch": args.batch,
        "loader_ms_per_sample": {
            "pil": {"item": pil_item, "collate": pil_collate, "total": pil_item + pil_collate},
            "device": {"item": dev_item, "collate": dev_collate, "total": dev_item + dev_collate},
        },
        "device_transform": {
            "device": str(device),
            "threads": args.threads,
            "ms_per_batch_wall": wall,
            "ms_per_batch_cpu": cpu,
        },
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    print("views: vit_tiny_paper (2x256x128 + 8x128x64 + 2 rescaled + CSR 320x160 + canvas 224x224)")
    print(
        f"loader, CPU ms per sample (1 thread, JPEG decode included, collate amortised, batch {args.batch}):"
    )
    pil, dev = pil_item + pil_collate, dev_item + dev_collate
    print(f"  loader path: PIL views {pil_item:6.2f} + SAIPCollate {pil_collate:6.2f} = {pil:6.2f} ms")
    print(f"  device path: decode+draws {dev_item:6.2f} + stack {dev_collate:6.2f} = {dev:6.2f} ms", end="")
    print(f" ({pil / dev:.0f}x less)")
    print(f"device transform on {device} ({args.threads} thread(s) on CPU), batch {args.batch}:")
    print(f"  {wall:8.1f} ms wall / {cpu:8.1f} ms CPU per batch = {wall / args.batch:.2f} ms wall per sample")
    out = args.out or Path(__file__).parent / "results" / f"data_views-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
