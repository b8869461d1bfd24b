"""Edge benchmark of an exported saip backbone with ONNX Runtime on CPU: fp32 vs dynamic int8.

Measures (design.md step 3, "deployable model out"):

* latency (median and p90, ms) and throughput (images/s) at batch 1 and 32;
* model size on disk;
* int8 vs fp32 feature agreement: max abs diff and mean cosine similarity of the image token;
* the ReID accuracy drop of int8: kNN retrieval mAP / Rank-1 (cosine, Market-1501 rules) on synthetic
  held-out identities, the quick protocol of ``saip.evaluate.probe`` (``synthetic_probe_data`` +
  ``retrieval_metrics``).

int8 uses ``onnxruntime.quantization.quantize_dynamic`` (weights int8 per channel, activations
quantised at run time; MatMul/Gemm/Conv). Prints a table and writes
``benchmarks/results/edge-<backbone>.json`` and ``.md``.

Usage::

    python benchmarks/edge.py --backbone random:vit_tiny --img-size 256x128 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import saip  # noqa: F401  (CPU import shim before timm)
from saip.data.normalize import normalize_uint8
from saip.export import export_onnx, load_export_source
from saip.export.onnx_quantize import quantize_int8

RESULTS = Path(__file__).resolve().parent / "results"


def make_session(path: Path, threads: int):  # noqa: ANN201 - onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def time_session(session, batch: int, img_size: tuple[int, int], repeats: int, warmup: int = 3) -> dict:
    x = np.random.default_rng(0).standard_normal((batch, 3, *img_size)).astype(np.float32)
    name = session.get_inputs()[0].name
    for _ in range(warmup):
        session.run(None, {name: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1000)
    median = float(np.median(times))
    return {
        "batch": batch,
        "median_ms": median,
        "p90_ms": float(np.percentile(times, 90)),
        "images_per_s": batch * 1000 / median,
        "repeats": repeats,
    }


def image_tokens(session, images_uint8: torch.Tensor, mean, std, batch: int = 32) -> torch.Tensor:
    name = session.get_inputs()[0].name
    out = []
    for start in range(0, len(images_uint8), batch):
        x = normalize_uint8(images_uint8[start : start + batch], mean, std).numpy()
        out.append(torch.from_numpy(session.run(["image_token"], {name: x})[0]))
    return torch.cat(out)


def reid_quick(sessions: dict, img_size: tuple[int, int], mean, std, max_images: int, seed: int) -> dict:
    """kNN ReID mAP / Rank-1 per precision on synthetic held-out identities + fp32/int8 feature agreement."""
    from saip.evaluate.probe import synthetic_probe_data
    from saip.evaluate.reid import retrieval_metrics

    data = synthetic_probe_data(max_images, seed, size=img_size)
    result: dict = {"query": len(data.query), "gallery": len(data.gallery)}
    feats = {}
    for precision, session in sessions.items():
        q = image_tokens(session, data.query, mean, std)
        g = image_tokens(session, data.gallery, mean, std)
        feats[precision] = torch.cat([q, g])
        metrics = retrieval_metrics(q, g, data.query_split, data.gallery_split, backend="torch")
        result[precision] = {"mAP": metrics["mAP"], "rank1": metrics["rank1"]}  # already in %
    a, b = feats["fp32"], feats["int8"]
    result["int8_vs_fp32"] = {
        "max_abs_diff": float((a - b).abs().max()),
        "mean_cosine": float(F.cosine_similarity(a, b, dim=1).mean()),
        "min_cosine": float(F.cosine_similarity(a, b, dim=1).min()),
    }
    result["mAP_drop"] = result["fp32"]["mAP"] - result["int8"]["mAP"]
    return result


def to_markdown(report: dict) -> str:
    lines = [
        f"### Edge benchmark: {report['backbone']} ({report['img_size'][0]}x{report['img_size'][1]}, "
        f"ONNX Runtime {report['onnxruntime']}, {report['threads']} thread(s), {report['machine']})",
        "",
        "| precision | size (MB) | batch | median (ms) | p90 (ms) | images/s | ReID mAP | Rank-1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for precision in ("fp32", "int8"):
        r = report["reid"][precision]
        for t in report["latency"][precision]:
            lines.append(
                f"| {precision} | {report['size_mb'][precision]:.1f} | {t['batch']} | {t['median_ms']:.1f} | "
                f"{t['p90_ms']:.1f} | {t['images_per_s']:.1f} | {r['mAP']:.1f} | {r['rank1']:.1f} |"
            )
    agree = report["reid"]["int8_vs_fp32"]
    lines += [
        "",
        f"int8 vs fp32 image token: max abs diff {agree['max_abs_diff']:.4f}, mean cosine "
        f"{agree['mean_cosine']:.4f} (min {agree['min_cosine']:.4f}); ReID mAP drop "
        f"{report['reid']['mAP_drop']:.2f} points on {report['reid']['query']} queries / "
        f"{report['reid']['gallery']} gallery images (synthetic held-out identities).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backbone", default="random:vit_tiny", help="run folder, weights file or random:<arch>"
    )
    parser.add_argument("--arch", default=None, help="architecture of a bare weights file")
    parser.add_argument("--img-size", default="256x128")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs at batch 1 (batch 32: a quarter)")
    parser.add_argument("--reid-images", type=int, default=120, help="synthetic ReID probe images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()

    import onnxruntime as ort

    torch.manual_seed(args.seed)
    source = load_export_source(args.backbone, arch=args.arch, img_size=args.img_size)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(source, Path(tmp) / "fp32.onnx").path
        int8 = quantize_int8(fp32, Path(tmp) / "int8.onnx")
        paths = {"fp32": fp32, "int8": int8}
        sessions = {p: make_session(path, args.threads) for p, path in paths.items()}
        report = {
            "backbone": source.alias,
            "timm_name": source.timm_name,
            "origin": source.origin,
            "img_size": list(source.img_size),
            "threads": args.threads,
            "onnxruntime": ort.__version__,
            "torch": torch.__version__,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "size_mb": {p: path.stat().st_size / 2**20 for p, path in paths.items()},
            "latency": {
                p: [
                    time_session(s, b, source.img_size, max(3, args.repeats // (1 if b == 1 else 4)))
                    for b in (1, 32)
                ]
                for p, s in sessions.items()
            },
            "reid": reid_quick(
                sessions, source.img_size, source.mean, source.std, args.reid_images, args.seed
            ),
        }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"edge-{source.alias}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = to_markdown(report)
    stem.with_suffix(".md").write_text(markdown)
    print(markdown)
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}")


if __name__ == "__main__":
    main()
