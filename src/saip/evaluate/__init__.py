"""Downstream evaluation of a backbone on the human-centric tasks (method.md §3).

One module per task (``reid``, ``attributes``, ``pose``, ``parsing``, ``detection``), each with a
``run_task(backbone_spec, data_root, budget, out_dir, seed, device, arch, runtime=None) -> dict[str, float]``
(``runtime``: the :class:`~saip.evaluate.runtime.EvalRuntime` of loader workers, autocast, progress bars);
``metrics/`` holds the metric definitions, ``datasets/`` the standard-layout readers,
``report`` runs every task and writes the paper-style table, ``probe`` is the quick frozen-feature
check run at the end of pretraining. Submodules are imported on demand (nothing heavy here).
"""

from saip._callable_package import make_callable  # noqa: E402

make_callable(__name__, "evaluate")  # saip.evaluate(...) is saip.api.evaluate(...)
