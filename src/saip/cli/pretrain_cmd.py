"""``saip pretrain``: pretrain a backbone with SAIP / SAIP* / DPAL."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from saip.api import BUDGET_RECIPES as BUDGETS
from saip.api import DEFAULT_RECIPE


def register(app: typer.Typer) -> None:
    @app.command("pretrain")
    def pretrain_command(
        overrides: list[str] = typer.Argument(
            None, help="Dotted config overrides, e.g. train.max_steps=100 objectives.css_weight=0 method=dpal"
        ),
        config: str | None = typer.Option(
            None,
            "--config",
            "-c",
            help=f"Shipped recipe name (see --list-recipes) or a YAML file [default: {DEFAULT_RECIPE}].",
        ),
        budget: str | None = typer.Option(
            None,
            "--budget",
            help="Preset instead of --config: demo (10 min, 2 CPU cores), cpu-ssl (SAIP with an EMA "
            "expert, 15 min, 2 CPU cores), cpu-1h (1 h CPU), gpu-short (10 min, one GPU).",
        ),
        data: Path | None = typer.Option(
            None, "--data", help="Folder of person images (default: synthetic)."
        ),
        backbone: str | None = typer.Option(
            None, "--backbone", help="vit_tiny, starnet_s3, tiny_vit_5m or a timm name."
        ),
        out: Path | None = typer.Option(None, "--out", "-o", help="Run folder."),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Continue the run in --out from its last checkpoint (overrides: only resume-safe keys "
            "such as train.max_steps, data.root, probe.*). '--resume auto': resume if a checkpoint "
            "exists, else start (for requeued jobs).",
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Start again even if --out holds a run."),
        no_probe: bool = typer.Option(False, "--no-probe", help="Skip the built-in probe at the end."),
        list_recipes_flag: bool = typer.Option(
            False, "--list-recipes", help="List shipped recipes and exit."
        ),
    ) -> None:
        """Pretrain a lightweight backbone. Without arguments: the CPU demo recipe on synthetic persons."""
        from saip.config import ConfigError, list_recipes, load_config
        from saip.pretrain import TrainingDiverged, TrainingInterrupted, pretrain

        if list_recipes_flag:
            typer.echo("\n".join(list_recipes()))
            return
        if budget is not None:
            if budget not in BUDGETS:
                raise typer.BadParameter(f"choose from {', '.join(BUDGETS)}", param_hint="--budget")
            if config is not None:
                raise typer.BadParameter("give --budget or --config, not both", param_hint="--budget")
            config = BUDGETS[budget]
        config = config or DEFAULT_RECIPE
        items = list(overrides or [])
        mode: bool | str = resume
        if resume and "auto" in items:  # `--resume auto`: the word lands among the positional overrides
            items.remove("auto")
            mode = "auto"
        if data is not None:
            items.append(f"data.root={data}")
        if backbone is not None:
            items.append(f"model.backbone={backbone}")
        if out is not None:
            items.append(f"out={out}")
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        try:
            if resume and out is None:
                raise ConfigError("--resume needs --out RUN_FOLDER")
            cfg = load_config(config, items)
            run_dir = pretrain(
                cfg,
                resume=mode,
                overwrite=overwrite,
                probe=False if no_probe else None,
                overrides=[item for item in items if not item.startswith("out=")],
            )
        except ConfigError as error:
            typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from error
        except TrainingDiverged as error:
            typer.secho(f"training stopped: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(3) from error
        except TrainingInterrupted as error:
            typer.secho(f"interrupted: {error}", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(75) from error  # EX_TEMPFAIL: try again (requeue)
        typer.echo(f"run folder: {run_dir}")
