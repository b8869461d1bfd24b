"""The ``saip`` command line: a thin layer that parses options and calls the library.

Each subcommand group lives in its own module exposing ``register(app)``; this module only
assembles them.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="saip",
    help="Scale-Aware Image Pretraining (SAIP/DPAL) for lightweight human-centric backbones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that add commands to ``app``; each defines ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES = [
    "saip.cli.pretrain_cmd",
    "saip.cli.data_cmd",
    "saip.cli.eval_cmd",
    "saip.cli.export_cmd",
    "saip.cli.viz_cmd",
]

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as error:  # a command group not built yet
        if error.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
