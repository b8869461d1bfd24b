"""Two-process DDP on CPU (gloo) gives the same loss and gradients as one process on the joint batch.

Run for SAIP (EMA expert) and SAIP* (frozen expert), whose standardised targets use the statistics
of the global batch (all-reduced), not of each rank's half.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from dataclasses import fields, replace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from saip.data import SAIPCollate, ViewDataset
from saip.methods.base import ScheduleValues
from saip.pretrain.builder import build_method, build_source, build_view_config
from tests.pretrain_helpers import finish_ddp_worker, tiny_config

pytestmark = pytest.mark.ddp
SCHEDULE = ScheduleValues(
    step=0, total_steps=10, lr=1e-3, weight_decay=0.05, momentum=0.996, teacher_temp=0.04, progress=0.0
)


def _joint_batch(cfg):
    views = build_view_config(cfg)
    dataset = ViewDataset(build_source(cfg), views, seed=0)
    return SAIPCollate(views, seed=0)([dataset[i] for i in range(4)])


def _rows(batch, start, stop):
    """Rows start:stop of every per-sample tensor of a batch (views are (V, B, ...) or (B, ...))."""
    values = {}
    for f in fields(batch):
        value = getattr(batch, f.name)
        if f.name in ("global_views", "local_views"):
            values[f.name] = value[:, start:stop]
        elif f.name == "scaled_views":
            values[f.name] = [v[start:stop] for v in value]
        elif isinstance(value, torch.Tensor):
            values[f.name] = value[start:stop]
    return replace(batch, **values)


def _grads(method):
    return {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}


SAIP_STAR = ("expert.kind=frozen", "expert.teacher=random:vit_tiny", "objectives.feature_pairing=same")


def _worker(rank, world, port, tmp, out, extra):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: never depend on the host's name resolution
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=120))
    torch.manual_seed(0)
    cfg = tiny_config(tmp, *extra)
    method = build_method(cfg)
    model = DistributedDataParallel(method)
    batch = _rows(_joint_batch(cfg), rank * 2, rank * 2 + 2)
    result = model(batch, SCHEDULE)
    result.loss.backward()
    loss = result.loss.detach().clone()
    dist.all_reduce(loss)
    if rank == 0:
        torch.save({"loss": loss / world, "grads": _grads(method)}, out)
    del model, result  # the DDP reducer goes before the process group (see finish_ddp_worker)
    finish_ddp_worker()


@pytest.mark.parametrize("extra", [(), SAIP_STAR], ids=["saip-ema", "saip-star"])
def test_ddp_matches_single_process(tmp_path, extra):
    torch.manual_seed(0)
    cfg = tiny_config(tmp_path, *extra)
    method = build_method(cfg)
    single = method(_joint_batch(cfg), SCHEDULE)
    single.loss.backward()
    reference = _grads(method)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, port, tmp_path, out, extra), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    assert torch.allclose(ddp["loss"], single.loss.detach(), rtol=1e-4, atol=1e-5)
    assert set(ddp["grads"]) == set(reference)
    for name, grad in reference.items():
        # float32 reductions in another order: differences ~1e-6 of the tensor's scale
        scale = float(grad.abs().max())
        assert torch.allclose(ddp["grads"][name], grad, rtol=1e-3, atol=1e-5 * scale + 1e-8), name


def _nan_worker(rank, world, port, tmp, messages):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    os.environ.update(LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    from saip.pretrain import Trainer, TrainingDiverged

    trainer = Trainer(tiny_config(tmp, "train.max_steps=6", "train.device=cpu"), progress=False)
    if rank == 1:
        forward = trainer.method.forward

        def poisoned(batch, schedule):
            out = forward(batch, schedule)
            if schedule.step == 2:
                out.loss = out.loss * float("nan")
            return out

        trainer.method.forward = poisoned
    try:
        trainer.train()
        message = "finished without stopping"
    except TrainingDiverged as error:
        message = str(error)
    (messages / f"rank{rank}.txt").write_text(message)
    del trainer  # the DDP reducer goes before the process group (see finish_ddp_worker)
    finish_ddp_worker()


def test_nan_on_one_rank_stops_every_rank_without_a_hang(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.spawn(_nan_worker, args=(2, port, tmp_path, tmp_path), nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("a rank hung after the NaN on rank 1")
    rank0, rank1 = ((tmp_path / f"rank{r}.txt").read_text() for r in (0, 1))
    assert rank1.startswith("step 3: loss is nan")
    assert rank0.startswith("step 3:") and "another rank" in rank0
