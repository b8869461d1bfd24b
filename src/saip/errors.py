"""The one exception type for bad user input (no torch import: the CLI reads it at start-up).

Library code raises :class:`InputError` (or :class:`saip.config.ConfigError`, a subclass) with a
message that names the option or file and says what to do; the ``saip`` command prints that one
line and exits with code 2 (``saip.cli``). It subclasses ``ValueError`` so callers that catch
``ValueError`` keep working.
"""

from __future__ import annotations


class InputError(ValueError):
    """A file, folder or option given by the user cannot be used; the message names it."""


class MissingDependencyError(InputError, ImportError):
    """An optional dependency the chosen command needs is not installed; the message says how to add it."""
