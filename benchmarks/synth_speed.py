"""Speed of the synthetic person generator: single process, all labels, JPEG encode included.

Prints wall-clock and process CPU time (CPU time is what one free core would take when the
machine is shared).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/synth_speed.py [--n 10000] [--scenes 200]``
"""

from __future__ import annotations

import argparse
import io
import time

from saip.synth.dataset import SyntheticPersonDataset, SyntheticSceneDataset


def main() -> None:
    """Render ``--n`` labelled 256x128 images (and ``--scenes`` scenes) and print the throughput."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="single-person images to render")
    parser.add_argument("--scenes", type=int, default=200, help="multi-person 384x512 scenes to render")
    parser.add_argument("--unlabelled", action="store_true", help="also time the labels=False variant")
    args = parser.parse_args()
    ids = max(1, args.n // 10)
    runs = [("labelled", True)] + ([("unlabelled", False)] if args.unlabelled else [])
    for name, labels in runs:
        ds = SyntheticPersonDataset(identities=ids, images_per_id=10, seed=0, labels=labels)
        n = min(args.n, len(ds))
        start, cpu0 = time.perf_counter(), time.process_time()
        nbytes = 0
        for i in range(n):
            buf = io.BytesIO()
            ds[i]["image"].save(buf, format="JPEG", quality=90)
            nbytes += buf.tell()
        sec, cpu = time.perf_counter() - start, time.process_time() - cpu0
        print(f"person 256x128 ({name}, + JPEG q90): {n} images in {sec:.1f} s wall / {cpu:.1f} s CPU "
              f"= {n / sec:.0f} images/s wall, {n / cpu:.0f} images/s CPU "
              f"({1000 * cpu / n:.2f} ms CPU/image); "
              f"10k images: {10_000 * sec / n:.1f} s wall, {10_000 * cpu / n:.1f} s CPU; "
              f"mean JPEG {nbytes / n / 1024:.1f} KiB")  # fmt: skip
    if args.scenes:
        scenes = SyntheticSceneDataset(scenes=args.scenes, seed=0)
        start, cpu0 = time.perf_counter(), time.process_time()
        for i in range(len(scenes)):
            scenes[i]["image"].save(io.BytesIO(), format="JPEG", quality=90)
        sec, cpu = time.perf_counter() - start, time.process_time() - cpu0
        print(f"scene 384x512 (2-6 persons, all labels, + JPEG): {len(scenes)} in {sec:.1f} s wall / "
              f"{cpu:.1f} s CPU ({1000 * cpu / len(scenes):.1f} ms CPU/scene)")  # fmt: skip


if __name__ == "__main__":
    main()
