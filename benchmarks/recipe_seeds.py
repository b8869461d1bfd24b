"""Does a pretraining recipe learn, reliably? Run it for several seeds and probe every run.

For each seed: ``saip pretrain --config RECIPE [overrides] train.seed=S`` (the run's built-in probe
scores held-out synthetic identities, trained vs the same architecture at random init), then
optionally ``saip eval probe`` on extra Market-style folders (e.g. real pedestrians from
``saip data tracklets-to-reid``). Writes a Markdown table (per seed, mean ± std of the margins) and
JSON under ``benchmarks/results/recipe-TAG.{md,json}``.

    python benchmarks/recipe_seeds.py --config cpu_demo --seeds 0,1,2 --tag cpu_demo
    python benchmarks/recipe_seeds.py --config gpu_1h --seeds 0 --device cuda --tag gpu_1h \\
        --probe-data /tmp/vt2_reid
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_helpers import ROOT, SAIP, call, probe_on

METRICS = ("reid_mAP", "reid_rank1", "attr_mA")


def probe_curve(lines: list[dict]) -> list[dict]:
    """The mid-run probe's margins over random init (``probe.every``) from a run's parsed
    ``logs/metrics.jsonl``, one entry per probed step."""
    return [
        {"step": x["step"], **{k.split("/", 1)[1]: v for k, v in x.items() if k.startswith("probe/margin_")}}
        for x in lines
        if any(k.startswith("probe/margin_") for k in x)
    ]


def job(seed: int, args: argparse.Namespace, out: Path) -> dict:
    run_dir = out / f"s{seed}"
    if args.reuse and (run_dir / "probe.json").exists():
        return finish_record({"seed": seed, "wall_s": None, "rc": 0, "reused": True}, run_dir, args, out)
    cmd = [
        *SAIP,
        "pretrain",
        "--config",
        args.config,
        "--out",
        str(run_dir),
        "--overwrite",
        *args.set,
        f"train.seed={seed}",
        f"train.device={args.device}",
    ]
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    rc = call(cmd, out / f"s{seed}.log")
    record: dict = {"seed": seed, "wall_s": round(time.time() - start, 1), "rc": rc}
    return finish_record(record, run_dir, args, out)


def finish_record(record: dict, run_dir: Path, args: argparse.Namespace, out: Path) -> dict:
    """Add the finished run's probes (built-in, curve, extra folders) to its record."""
    seed, rc = record["seed"], record["rc"]
    probe_file = run_dir / "probe.json"
    if rc != 0 or not probe_file.exists():
        record["error"] = f"pretrain failed, see {out / f's{seed}.log'}"
        return record
    record["probes"] = {"synthetic": json.loads(probe_file.read_text())}
    metrics = run_dir / "logs" / "metrics.jsonl"
    lines = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()] if metrics.exists() else []
    steps = [x for x in lines if "step" in x]
    if steps:
        record["steps"] = steps[-1]["step"]
    curve = probe_curve(lines)
    final = record["probes"]["synthetic"]["margin"]
    if "steps" in record and (not curve or curve[-1]["step"] < record["steps"]):  # the end-of-run probe
        curve.append({"step": record["steps"], **{f"margin_{k}": v for k, v in final.items()}})
    record["probe_curve"] = curve
    for extra in args.probe_data:
        name = Path(extra).name
        result = probe_on(str(run_dir), extra, out / f"s{seed}-probe-{name}", seed, args.device, args.pooling)
        if result is not None:
            record["probes"][name] = result
    return record


def table(records: list[dict]) -> str:
    ok = [r for r in records if "probes" in r]
    if not ok:
        return "no finished runs"
    lines = []
    for probe in ok[0]["probes"]:
        keys = [k for k in METRICS if k in ok[0]["probes"][probe]["trained"]]
        lines += [
            f"\n**probe: {probe}** — trained / random init (margin)\n",
            "| seed | " + " | ".join(keys) + " |",
            "|---|" + "---:|" * len(keys),
        ]
        margins: dict[str, list[float]] = {k: [] for k in keys}
        for r in sorted(ok, key=lambda r: r["seed"]):
            p = r["probes"].get(probe)
            if p is None:
                continue
            cells = []
            for k in keys:
                margins[k].append(p["margin"][k])
                cells.append(f"{p['trained'][k]:.1f} / {p['random_init'][k]:.1f} ({p['margin'][k]:+.1f})")
            lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
        if len(ok) > 1:
            lines.append(
                "| margin mean ± std | "
                + " | ".join(
                    f"{statistics.mean(v):+.1f} ± {statistics.stdev(v):.1f}" for v in margins.values()
                )
                + " |"
            )
    curves = [r for r in sorted(ok, key=lambda r: r["seed"]) if r.get("probe_curve")]
    if curves:
        keys = [k for k in curves[0]["probe_curve"][0] if k != "step"]
        lines += [
            "\n**probe curve** (built-in probe, margins over random init during the run)\n",
            "| seed | step | " + " | ".join(keys) + " |",
            "|---|---:|" + "---:|" * len(keys),
        ]
        for r in curves:
            for point in r["probe_curve"]:
                lines.append(
                    f"| {r['seed']} | {point['step']} | "
                    + " | ".join(f"{point[k]:+.2f}" for k in keys)
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu_demo", help="shipped recipe name or YAML file")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeat)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once")
    parser.add_argument("--probe-data", action="append", default=[], help="extra Market folder to probe on")
    parser.add_argument("--pooling", default="token", help="feature of the extra probes: token, mean, concat")
    parser.add_argument("--out", default="runs/recipe_seeds")
    parser.add_argument(
        "--reuse", action="store_true", help="do not retrain seeds whose run folder OUT/TAG/sS is finished"
    )
    parser.add_argument("--tag", default=None)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    tag = args.tag or Path(args.config).stem
    out = Path(args.out) / tag
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    start = time.time()
    records: list[dict] = []

    def finished(record: dict) -> None:  # rewrite after every run: partial results survive
        records.append(record)
        header = (
            f"Recipe `{args.config}` {' '.join(args.set)} — seeds {args.seeds}, device {args.device}, "
            f"{len(records)}/{len(seeds)} runs, {time.time() - start:.0f} s wall so far.\n"
            f"Command: `python benchmarks/recipe_seeds.py {' '.join(sys.argv[1:])}`\n"
            f"`saip pretrain` wall per seed (start-up, training, built-in probe): "
            + ", ".join(
                f"seed {r['seed']} " + ("reused" if r.get("reused") else f"{r['wall_s']:.0f} s")
                for r in sorted(records, key=lambda r: r["seed"])
            )
            + "\n"
        )
        (results / f"recipe-{tag}.md").write_text(header + table(records) + "\n")
        (results / f"recipe-{tag}.json").write_text(
            json.dumps({"args": vars(args), "records": records}, indent=2)
        )
        print(
            f"[{time.time() - start:.0f}s] seed {record['seed']} done ({record.get('error', 'ok')})",
            flush=True,
        )

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for seed in seeds:
            pool.submit(job, seed, args, out).add_done_callback(lambda f: finished(f.result()))
    print((results / f"recipe-{tag}.md").read_text())


if __name__ == "__main__":
    main()
