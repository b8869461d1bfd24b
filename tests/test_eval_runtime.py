"""``saip eval`` runtime choices: DataLoader workers, ``--amp`` and progress bars change no CPU result."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler
from typer.testing import CliRunner

import saip.cli
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.box_crop import RandomBoxCrop
from saip.evaluate.datasets.coco_keypoints import TopDownDataset, load_coco_keypoints
from saip.evaluate.datasets.detection import LetterboxDataset, collate_detection
from saip.evaluate.detection import evaluate_detection, load_detection_split
from saip.evaluate.features import extract_features
from saip.evaluate.runtime import EvalRuntime
from tests.test_eval_detection import write_detection
from tests.test_eval_pose import write_coco_keypoints
from tests.test_eval_reid_pipeline import write_market

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _equal(a, b) -> bool:
    """Deep equality of collated batches (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_workers_give_the_same_features_as_the_main_process(tmp_path: Path) -> None:
    paths = sorted((write_market(tmp_path / "m") / "bounding_box_test").glob("*.jpg"))
    backbone, info = load_backbone("random:vit_tiny", img_size=(32, 16), seed=0)
    kwargs = dict(size=(32, 16), batch_size=8)
    main = extract_features(backbone, paths, MEAN, STD, runtime=EvalRuntime(workers=0), **kwargs)
    workers = extract_features(backbone, paths, MEAN, STD, runtime=EvalRuntime(workers=2), **kwargs)
    assert main.shape == (len(paths), 192) and torch.equal(main, workers)


def _batches(dataset_factory, runtime: EvalRuntime | None, collate=None, steps: int = 6) -> list:
    """Two passes of shuffled batches of 3, through ``runtime.loader`` or (``None``) a plain DataLoader
    that calls ``dataset[i]`` in this process (what the evaluation did before runtimes existed)."""
    torch.manual_seed(0)
    dataset = dataset_factory()
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(0))
    if runtime is None:
        loader = DataLoader(dataset, batch_size=3, sampler=sampler, drop_last=True, collate_fn=collate)
    else:
        loader = runtime.loader(dataset, batch_size=3, sampler=sampler, drop_last=True, collate_fn=collate)
    out = []
    while len(out) < steps:
        out += list(loader)
    return [*out[:steps], torch.get_rng_state()]  # + the global RNG: each pass draws a loader seed from it


@pytest.mark.parametrize("task", ["pose", "pap"])
def test_random_augmentation_is_the_same_with_workers(tmp_path: Path, task: str) -> None:
    """Training sets that draw flips/scales/crops per item: workers get the draws made in this process,
    so the batches equal those of a single process calling ``dataset[i]`` in the same order."""
    if task == "pose":
        data = load_coco_keypoints(*write_coco_keypoints(tmp_path, "train", 4, seed=0))

        def factory():
            return TopDownDataset(data.instances, (64, 48), MEAN, STD, data.flip_pairs, train=True, seed=3)

        collate = None
    else:
        write_detection(tmp_path / "detection", "train", 5, 0)
        records = load_detection_split(tmp_path, "train")

        def factory():
            return RandomBoxCrop(
                LetterboxDataset(records, 64, MEAN, STD, train=True, seed=3), (32, 48), seed=4
            )

        collate = collate_detection
    reference = _batches(factory, None, collate)
    assert _equal(reference, _batches(factory, EvalRuntime(workers=0), collate))
    assert _equal(reference, _batches(factory, EvalRuntime(workers=2), collate))
    assert not _equal(reference[0], reference[2])  # the draws differ from pass to pass


def test_dense_fine_tuning_with_workers_equals_without(tmp_path: Path) -> None:
    write_detection(tmp_path / "detection", "train", 4, 0)
    records = load_detection_split(tmp_path, "train")
    budget = TaskBudget("finetune", (64, 64), steps=3, batch_size=2, lr=1e-3)
    results = []
    for workers in (0, 2):
        backbone, _ = load_backbone("random:vit_tiny", img_size=(64, 64), seed=0)
        results.append(
            evaluate_detection(backbone, MEAN, STD, records, records, budget, runtime=EvalRuntime(workers))
        )
    assert results[0] == results[1]


def _reid(tmp_path: Path, root: Path, name: str, *extra: str):
    out = tmp_path / name
    args = ["eval", "reid", "--backbone", "random:vit_tiny", "--data", str(root), "--out", str(out), *extra]
    result = CliRunner().invoke(saip.cli.app, args)
    assert result.exit_code == 0, result.output
    return result, json.loads((out / "results.json").read_text())["tasks"]["reid"]["metrics"]


def test_amp_off_on_cpu_is_the_default_and_stdout_stays_parseable(tmp_path: Path) -> None:
    root = write_market(tmp_path / "market")
    default, metrics = _reid(tmp_path, root, "default")
    off, metrics_off = _reid(tmp_path, root, "off", "--amp", "off", "--workers", "2")
    assert {k: v for k, v in metrics.items() if k != "seconds"} == {
        k: v for k, v in metrics_off.items() if k != "seconds"
    }
    for result in (default, off):  # non-TTY: no bar anywhere, stdout is `task key: value` lines
        lines = result.stdout.strip().splitlines()
        assert lines[-1].startswith("wrote ") and "\r" not in result.output and "it/s" not in result.output
        parsed = dict(line.removeprefix("reid ").split(": ") for line in lines[:-1])
        assert float(parsed["mAP"]) == pytest.approx(metrics["mAP"], abs=0.01)


def test_cli_rejects_bad_amp_and_workers(tmp_path: Path) -> None:
    root = write_market(tmp_path / "market")
    base = ["eval", "reid", "--backbone", "random:vit_tiny", "--data", str(root)]
    bad_amp = CliRunner().invoke(saip.cli.app, [*base, "--amp", "fp8"])
    assert bad_amp.exit_code == 2 and "--amp" in bad_amp.output
    bad_workers = CliRunner().invoke(saip.cli.app, [*base, "--workers", "-1"])
    assert bad_workers.exit_code == 2 and "--workers" in bad_workers.output
    with pytest.raises(ValueError, match="--amp"):
        EvalRuntime(amp="fp16")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for stream, progress, env, shown in (
        (_Terminal(), True, None, True),
        (_Terminal(), False, None, False),
        (_Terminal(), True, "1", False),  # TQDM_DISABLE=1
        (io.StringIO(), True, None, False),  # a pipe or a file
    ):
        monkeypatch.setattr("sys.stderr", stream)
        if env is None:
            monkeypatch.delenv("TQDM_DISABLE", raising=False)
        else:
            monkeypatch.setenv("TQDM_DISABLE", env)
        assert list(EvalRuntime(progress=progress).bar(range(3), "features")) == [0, 1, 2]
        assert ("features" in stream.getvalue()) is shown


def test_amp_modes_on_cpu() -> None:
    x = torch.randn(4, 8)
    layer = torch.nn.Linear(8, 8)
    for amp, dtype in (("auto", torch.float32), ("off", torch.float32), ("bf16", torch.bfloat16)):
        with EvalRuntime(amp=amp).autocast("cpu"):
            assert layer(x).dtype == dtype
