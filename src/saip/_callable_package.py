"""``saip.pretrain``, ``saip.evaluate`` and ``saip.export`` are packages *and* the API functions.

Python binds a package's submodule to the parent's attribute on import, which would replace a
function of the same name; so the three package modules are made callable instead, each call
going to :mod:`saip.api`. ``saip.pretrain(...)`` and ``from saip.pretrain import Trainer`` both work.
"""

from __future__ import annotations

import importlib
import sys
import types


class _CallablePackage(types.ModuleType):
    _api_function: str

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204 - forwards to saip.api
        return getattr(importlib.import_module("saip.api"), self._api_function)(*args, **kwargs)


def make_callable(module_name: str, api_function: str) -> None:
    """Turn the (already imported) module ``module_name`` into a callable forwarding to ``saip.api``."""
    module = sys.modules[module_name]
    module.__class__ = _CallablePackage
    module._api_function = api_function
