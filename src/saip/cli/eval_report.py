"""``saip eval all``: every downstream task on one backbone, with a paper-style results table."""

from __future__ import annotations

from pathlib import Path

import typer

from saip.cli.eval_dense import _AMP, _DEVICE, _OUT, _SEED, _WORKERS, eval_paths, eval_runtime
from saip.evaluate.report import TASK_KEYS


def register(eval_app: typer.Typer) -> None:
    """Add the ``all`` command to the ``saip eval`` group."""

    @eval_app.command("all")
    def all_cmd(
        backbone: str = typer.Option(
            ..., "--backbone", "-b", help="Run folder, weight file (with --arch) or random:<arch>."
        ),
        arch: str | None = typer.Option(None, "--arch", help="Architecture of a weight file."),
        data: Path | None = typer.Option(
            None,
            "--data",
            help="Data root with reid/, attributes/, pose/, parsing/, "
            "detection/; default: the synthetic dataset (generated once).",
        ),
        budget: str = typer.Option("quick", "--budget", help="Budget preset: quick, standard or paper."),
        tasks: list[str] | None = typer.Option(
            None, "--tasks", help=f"Tasks (repeat the option or comma list); default: {', '.join(TASK_KEYS)}."
        ),
        out: Path | None = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
    ) -> None:
        """Run every downstream task and write results.json + results.md (group | task | dataset | metric)."""
        from saip.evaluate.budgets import BUDGETS
        from saip.evaluate.default_data import ensure_synthetic_data
        from saip.evaluate.report import format_results, run_report

        if budget not in BUDGETS:
            raise typer.BadParameter(f"choose from {', '.join(BUDGETS)}", param_hint="--budget")
        selected = [t.strip() for item in (tasks or []) for t in item.split(",") if t.strip()]
        bad = [t for t in selected if t not in TASK_KEYS]
        if bad:
            raise typer.BadParameter(
                f"unknown task(s) {bad}; choose from {', '.join(TASK_KEYS)}", param_hint="--tasks"
            )
        if data is not None and not data.is_dir():
            raise typer.BadParameter(f"data folder not found: {data}", param_hint="--data")
        runtime = eval_runtime(workers, amp)
        root = ensure_synthetic_data(data, seed=seed)
        out, device = eval_paths(backbone, out, device)
        results = run_report(
            backbone, root, budget, out, selected or None, seed, device, arch, synthetic=data is None,
            runtime=runtime,
        )  # fmt: skip
        typer.echo(format_results(results))
        typer.echo(f"wrote {out / 'results.json'} and {out / 'results.md'}")
