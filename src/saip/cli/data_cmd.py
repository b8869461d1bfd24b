"""``saip data ...``: build and inspect datasets (synthetic default data, real sources)."""

from __future__ import annotations

import importlib

import typer

# Modules adding commands to the ``data`` group; each defines ``register(data_app)``.
_DATA_COMMAND_MODULES = ["saip.cli.data_synth", "saip.cli.data_real"]


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Build datasets: synthetic default data, crops from boxes or video, shards.",
        no_args_is_help=True,
    )
    for name in _DATA_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(data_app)
    app.add_typer(data_app, name="data")
