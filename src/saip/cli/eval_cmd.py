"""``saip eval ...``: downstream evaluation of a backbone on the human-centric tasks."""

from __future__ import annotations

import importlib

import typer

# Modules adding commands to the ``eval`` group; each defines ``register(eval_app)``.
_EVAL_COMMAND_MODULES = [
    "saip.cli.eval_single",
    "saip.cli.eval_dense",
    "saip.cli.eval_person",
    "saip.cli.eval_multi",
    "saip.cli.eval_report",
]


def register(app: typer.Typer) -> None:
    eval_app = typer.Typer(
        help="Evaluate a backbone: reid, t2i, attributes, pose, landmarks, parsing, detection, mhp, pap, "
        "all.",
        no_args_is_help=True,
    )
    for name in _EVAL_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(eval_app)
    app.add_typer(eval_app, name="eval")
