"""Small-scale reproduction of the paper's Table IV: which objectives make the backbone transfer?

For every configuration (random init, each SAIP objective alone, the pairs, all three, SAIP* and DPAL
with the offline EfficientNet-Lite0 teacher) and seed: pretrain ViT-Tiny for the same number of
optimizer steps on the same synthetic persons (equal images seen; FLOPs differ by objective), run the
built-in probe (kNN ReID mAP / linear attribute mA on held-out identities) and optionally
``saip eval all --budget quick``. Writes a Markdown table + JSON under ``benchmarks/results/``.

    python benchmarks/ablation.py --steps 600 --seeds 0,1 --device cuda --parallel 4 --eval
    python benchmarks/ablation.py --steps 20 --seeds 0 --device cpu --configs random,csm   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_helpers import ROOT, SAIP, call, probe_on
from saip.config import load_config
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.report import TASK_KEYS
from saip.pretrain.builder import build_view_config
from saip.pretrain.checkpoint import save_backbone

# The KoLeo spread term (objectives.koleo_weight, DINOv2) regularises CSM's image tokens: off without CSM.
NO_KOLEO = "objectives.koleo_weight=0"
# name -> overrides on top of the shared recipe below (weights: CSM, CSR, CSS)
CONFIGS: dict[str, list[str]] = {
    "random": [],
    "csm": ["objectives.csm_weight=1", "objectives.csr_weight=0", "objectives.css_weight=0"],
    "csr": ["objectives.csm_weight=0", "objectives.csr_weight=1", "objectives.css_weight=0", NO_KOLEO],
    "css": ["objectives.csm_weight=0", "objectives.csr_weight=0", "objectives.css_weight=1", NO_KOLEO],
    "csm+csr": ["objectives.csm_weight=1", "objectives.csr_weight=1", "objectives.css_weight=0"],
    "csm+css": ["objectives.csm_weight=1", "objectives.csr_weight=0", "objectives.css_weight=1"],
    "csr+css": ["objectives.csm_weight=0", "objectives.csr_weight=1", "objectives.css_weight=1", NO_KOLEO],
    "all": ["objectives.csm_weight=1", "objectives.csr_weight=1", "objectives.css_weight=1"],
    # the paper's baselines in the same views and budget: DINO (CSM without the rescaled copies, i.e.
    # plain multi-crop self-distillation) and MAE (the `mae` recipe: CSR without local crops or rescaled
    # copies). CSR's source and anchor are global views whatever n_local/n_scaled say, so "mae" trains
    # the same network as "csr" (loss for loss); it is kept so the table shows the recipe users run.
    "dino": [
        "objectives.csm_weight=1",
        "objectives.csr_weight=0",
        "objectives.css_weight=0",
        "data.views.n_scaled=0",
    ],
    "mae": [
        "objectives.csm_weight=0",
        "objectives.csr_weight=1",
        "objectives.css_weight=0",
        NO_KOLEO,
        "data.views.n_local=0",
        "data.views.n_scaled=0",
    ],
    "saip_star": ["method=saip_star", "expert.kind=frozen", "expert.teacher=efficientnet_lite0_imagenet"],
    "dpal": ["method=dpal", "expert.kind=frozen", "expert.teacher=efficientnet_lite0_imagenet"],
}

# Shared recipe: ViT-Tiny at 128x64 (person crops at half the paper's resolution), multi-crop,
# 4096 prototypes; the same for every configuration.
SHARED = [
    "method=saip",
    "expert.kind=ema",
    "model.backbone=vit_tiny",
    "model.img_size=[128,64]",
    'data.views={"global_size": [128, 64], "local_size": [64, 32], "n_local": 4, "n_scaled": 2, '
    '"canvas_size": [128, 128]}',
    "data.synthetic_identities=1000",
    "data.synthetic_images_per_id=8",
    "objectives.csm_out_dim=4096",
    "objectives.csr_depth=4",
    "objectives.csr_dim=192",
    "objectives.css_hidden_dim=192",
    "objectives.teacher_temp_warmup_fraction=0.2",
    "objectives.teacher_temp_start=0.04",
    "objectives.teacher_temp=0.07",
    "train.warmup_fraction=0.1",
    "train.log_every=50",
    "train.checkpoint_every=100000",
]


# --expert frozen: the same objectives against the frozen ImageNet EfficientNet-Lite0 (SAIP*): CSM is
# cross-scale feature matching, CSS searches the expert's canvas features, CSR is unchanged. Past the
# start-up phase within minutes, unlike the EMA expert.
FROZEN_EXPERT = ["method=saip_star", "expert.kind=frozen", "expert.teacher=efficientnet_lite0_imagenet"]


def random_init_run(folder: Path, seed: int, args) -> str:
    """The random-init row as a run folder: the trained runs' architecture at their input size and
    normalisation, seeded as the probe's random counterpart (what ``saip pretrain`` would write before
    its first step). The eval stage then builds every head on the same token grid as for the trained
    runs; ``random:vit_tiny`` would be a 256x128 model with its own full-size position embeddings."""
    cfg = load_config(args.recipe or "cpu_demo", [*([] if args.recipe else SHARED), *args.set])
    backbone, _ = load_backbone(f"random:{cfg.model.backbone}", img_size=tuple(cfg.model.img_size), seed=seed)
    views = build_view_config(cfg)
    save_backbone(folder, backbone, cfg.model.backbone, list(views.mean), list(views.std))
    return str(folder)


def job(name: str, seed: int, args, out: Path) -> dict:
    run_dir = out / f"{name}-s{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    record: dict = {"config": name, "seed": seed}
    if name == "random":
        spec = random_init_run(run_dir / "run", seed, args)
    else:
        budget = [
            f"{key}={value}"
            for key, value in (
                ("train.max_steps", args.steps),
                ("train.batch_size", args.batch),
                ("train.base_lr", args.base_lr),
                ("data.num_workers", args.workers),
            )
            if value is not None
        ]
        cmd = [
            *SAIP,
            "pretrain",
            "--config",
            args.recipe or "cpu_demo",
            "--out",
            str(run_dir / "run"),
            "--overwrite",
            *([] if args.recipe else SHARED),
            *(FROZEN_EXPERT if args.expert == "frozen" and name not in ("saip_star", "dpal") else []),
            *CONFIGS[name],
            *args.set,
            *budget,
            f"train.seed={seed}",
            f"train.device={args.device}",
            "probe.enabled=true",
        ]
        reused = args.reuse and (run_dir / "run" / "probe.json").exists()
        rc = 0 if reused else call(cmd, run_dir / "pretrain.log")
        record["reused"] = reused
        record["pretrain_rc"] = rc
        probe_file = run_dir / "run" / "probe.json"
        if rc != 0 or not probe_file.exists():
            record["error"] = f"pretrain failed (see {run_dir / 'pretrain.log'})"
            return record
        probe = json.loads(probe_file.read_text())
        record["probe"] = probe["trained"]
        record["probe_random"] = probe["random_init"]
        spec = str(run_dir / "run")
    record["pretrain_s"] = time.time() - start
    for extra in args.probe_data:
        name_ = Path(extra).name
        earlier = run_dir / f"probe-{name_}" / "probe" / "probe.json"
        if args.reuse and earlier.exists():
            result = json.loads(earlier.read_text())
        else:
            result = probe_on(spec, extra, run_dir / f"probe-{name_}", seed, args.device)
        if result is not None:
            record[f"probe_{name_}"] = result["trained"]
            record[f"probe_{name_}_random"] = result["random_init"]
    if name == "random":
        record["probe"] = None  # filled from the random_init column of the other runs
    if args.eval:
        results = run_dir / "eval" / "results.json"
        missing = missing_tasks(results, spec) if args.reuse else list(TASK_KEYS)
        rc = 0
        if missing:  # eval all merges into results.json: an interrupted stage resumes task by task
            rc = call(
                [
                    *SAIP,
                    "eval",
                    "all",
                    "--backbone",
                    spec,
                    "--budget",
                    "quick",
                    "--tasks",
                    ",".join(missing),
                    "--out",
                    str(run_dir / "eval"),
                    "--seed",
                    str(seed),
                    "--device",
                    args.device,
                ],
                run_dir / "eval.log",
            )
        record["eval"] = json.loads(results.read_text()) if results.exists() else {"error": rc}
    return record


def missing_tasks(results: Path, backbone: str) -> list[str]:
    """The tasks of ``saip eval all`` without an ``ok`` entry for ``backbone`` in ``results``
    (a results.json)."""
    earlier = json.loads(results.read_text()) if results.exists() else {}
    done = earlier.get("tasks", {}) if earlier.get("backbone") == backbone else {}
    return [key for key in TASK_KEYS if done.get(key, {}).get("status") != "ok"]


def flat_metrics(record: dict) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for key, value in (record.get("probe") or {}).items():
        metrics[f"probe/{key}"] = value
    for field_, values in record.items():  # extra probes: "probe_NAME" (trained) only
        if field_.startswith("probe_") and not field_.endswith("_random") and field_ != "probe_random":
            for key, value in (values or {}).items():
                if key != "attr_mA":
                    metrics[f"{field_[6:]}/{key}"] = value
    for task, values in (record.get("eval") or {}).get("tasks", {}).items():
        for key, value in (values.get("metrics") or {}).items():
            if isinstance(value, int | float) and key != "seconds" and not key.startswith("num_"):
                metrics[f"{task}/{key}"] = value
    return metrics


# One headline metric per probe / task (the paper tables' first column), higher is better for all.
HEADLINE = {
    "probe/attr_mA": "probe attr mA",
    "probe/reid_mAP": "probe synth ReID mAP",
    "vt2_reid/reid_mAP": "real ReID mAP",
    "reid/mAP": "ReID mAP",
    "t2i/rank1": "T2I R1",
    "attributes/mA": "attr mA",
    "pose/AP": "pose AP",
    "landmarks/AP": "whole-body AP",
    "parsing/mIoU": "parsing mIoU",
    "detection/AP50": "det AP50",
    "mhp/mIoU": "MHP mIoU",
    "pap/AP_iou_f1": "PAP AP^{IoU+F1}",
}


def table(records: list[dict], headline: bool = False) -> str:
    """Mean (± std over seeds) of every metric per configuration; ``headline``: the columns of
    :data:`HEADLINE` only, under their short names."""
    by_config: dict[str, list[dict[str, float]]] = {}
    randoms = [r["probe_random"] for r in records if r.get("probe_random")]
    for r in records:
        m = flat_metrics(r)
        if r["config"] == "random" and randoms:
            m.update({f"probe/{k}": v for k, v in randoms[0].items()})
        by_config.setdefault(r["config"], []).append(m)
    # the random-init baseline of the extra probes: from a trained run (same architecture and input
    # size as the trained backbones) when there is one
    baseline = [r for r in records if r["config"] != "random"][:1] or records[:1]
    extra_randoms = {
        f"{k[6:-7]}/{m}": v
        for r in baseline
        for k, vals in r.items()
        if k.startswith("probe_") and k.endswith("_random") and k != "probe_random"
        for m, v in vals.items()
        if m != "attr_mA"
    }
    if "random" not in by_config and randoms:  # every probe also scores a seeded random init
        by_config["random"] = [{f"probe/{k}": v for k, v in randoms[0].items()}]
    if "random" in by_config:
        for m in by_config["random"]:
            m.update(extra_randoms)
    columns = sorted({k for ms in by_config.values() for m in ms for k in m})
    if headline:
        columns = [c for c in HEADLINE if c in columns]
    names = [HEADLINE[c] for c in columns] if headline else columns
    lines = ["| config | " + " | ".join(names) + " |", "|---|" + "---:|" * len(columns)]
    for name in CONFIGS:
        if name not in by_config:
            continue
        cells = []
        for col in columns:
            values = [m[col] for m in by_config[name] if col in m]
            if not values:
                cells.append("")
            elif len(values) == 1:
                cells.append(f"{values[0]:.1f}")
            else:
                cells.append(f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument(
        "--recipe",
        default=None,
        help="shipped recipe or YAML every configuration is built on (e.g. cpu_ssl; its own steps, batch, "
        "lr and workers unless given); default: this script's shared 128x64 recipe on cpu_demo",
    )
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps [600, or the recipe's]")
    parser.add_argument("--batch", type=int, default=None, help="batch size [64, or the recipe's]")
    parser.add_argument("--base-lr", type=float, default=None, help="lr at batch 256 [2e-3, or the recipe's]")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=None, help="loader workers [2, or the recipe's]")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep what a run under --out already has: its training (probe.json), probes and evaluated tasks",
    )
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--eval", action="store_true", help="also run saip eval all --budget quick")
    parser.add_argument("--expert", choices=("ema", "frozen"), default="ema", help="expert of the objectives")
    parser.add_argument("--probe-data", action="append", default=[], help="extra Market folder to probe on")
    parser.add_argument(
        "--set", action="append", default=[], help="override of the shared recipe, key=value (repeat)"
    )
    parser.add_argument(
        "--table-from",
        type=Path,
        default=None,
        help="print the tables of a finished ablation's JSON (results/ablation-TAG.json) and exit",
    )
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--tag", default=None)
    parser.add_argument(
        "--results", default=str(ROOT / "benchmarks" / "results"), help="folder for the table"
    )
    args = parser.parse_args()
    if args.table_from is not None:
        records = json.loads(args.table_from.read_text())["records"]
        headline, everything = table(records, headline=True), table(records)
        print(f"**Headline metrics**\n\n{headline}\n\n**All metrics**\n\n{everything}")
        return
    if args.recipe is None:  # the shared recipe's budget
        args.steps, args.batch = args.steps or 600, args.batch or 64
        args.base_lr, args.workers = args.base_lr or 2e-3, args.workers or 2
    names = [n for n in args.configs.split(",") if n]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"--configs: unknown {unknown}; known: {list(CONFIGS)}")
    out = Path(args.out)
    jobs = [(n, int(s)) for s in args.seeds.split(",") for n in names]
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    start = time.time()
    tag = args.tag or f"{args.device}-{args.recipe or 'shared'}-{args.steps or 'recipe'}steps"
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []

    def finished(record: dict) -> None:  # rewrite the table after every job: partial results survive
        records.append(record)
        text = (
            f"Ablation: ViT-Tiny 128x64, recipe {args.recipe or 'shared (cpu_demo + SHARED)'}, "
            f"{args.expert} expert, {args.steps or 'recipe'} steps x batch {args.batch or 'recipe'} per "
            f"config, seeds {args.seeds}, device {args.device}, overrides {args.set or 'none'}, "
            f"{time.time() - start:.0f} s so far, "
            f"{len(records)}/{len(jobs)} runs.\n\n**Headline metrics** (one per probe / task)\n\n"
            f"{table(records, headline=True)}\n\n**All metrics**\n\n{table(records)}\n"
        )
        (results / f"ablation-{tag}.md").write_text(text)
        (results / f"ablation-{tag}.json").write_text(
            json.dumps({"args": vars(args), "records": records}, indent=2)
        )
        print(
            f"[{time.time() - start:.0f}s] {record['config']} seed {record['seed']}: "
            f"{record.get('probe') or record.get('error', '')}",
            flush=True,
        )

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for job_args in jobs:
            pool.submit(job, *job_args, args, out).add_done_callback(lambda f: finished(f.result()))
    print((results / f"ablation-{tag}.md").read_text())


if __name__ == "__main__":
    main()
