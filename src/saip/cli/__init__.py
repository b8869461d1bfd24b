"""The ``saip`` command line: a thin layer that parses options and calls the library.

Each subcommand group lives in its own module exposing ``register(app)``; this module only
assembles them.
"""

from __future__ import annotations

import errno
import importlib
import os

import typer
from typer.core import TyperGroup

from saip.errors import InputError

# typer >= 0.29 vendors click; its usage errors are the base class of typer.BadParameter.
_UsageError = typer.BadParameter.__mro__[1]

# OS errors that are the user's environment, not a bug: one line naming the file (exit 2).
_USER_OS_ERRORS = (
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
)


def user_error_line(error: BaseException) -> str | None:
    """The one-line message for a user error (bad input, unwritable or full disk), else ``None``.

    Library code reports bad input as :class:`InputError`, or as ``FileNotFoundError`` /
    ``NotADirectoryError`` with a message naming the path; OS errors of the user's environment
    (read-only or full disk, permissions) carry the file name.
    """
    if isinstance(error, InputError):
        return str(error)
    if isinstance(error, OSError):
        if error.errno is None and isinstance(
            error, FileNotFoundError | NotADirectoryError | IsADirectoryError
        ):
            return str(error)
        if error.errno in _USER_OS_ERRORS:
            where = f": {os.fsdecode(error.filename)}" if error.filename is not None else ""
            return f"{error.strerror or error}{where}"
    return None


class SaipGroup(TyperGroup):
    """The root command group: a user error anywhere below ends as one line on stderr and exit code 2.

    Anything else is a bug and keeps its traceback; ``SAIP_DEBUG=1`` shows the traceback of user
    errors too.
    """

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except _UsageError as error:  # bad options of a subcommand: one line, not click's box
            if error.ctx is None or error.ctx is ctx:
                raise
            hint = f" (see '{error.ctx.command_path} --help')"
            typer.secho(f"error: {error.format_message()}{hint}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from error
        except (InputError, OSError) as error:
            line = user_error_line(error)
            if line is None or os.environ.get("SAIP_DEBUG"):
                raise
            typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from error


app = typer.Typer(
    cls=SaipGroup,
    name="saip",
    help="Scale-Aware Image Pretraining (SAIP/DPAL) for lightweight human-centric backbones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from saip import __version__

        typer.echo(f"saip {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Scale-Aware Image Pretraining (SAIP/DPAL) for lightweight human-centric backbones."""


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
