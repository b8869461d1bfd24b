"""The pretraining loop: schedules by global step, AMP, gradient accumulation, DDP, checkpoints, resume.

Read top to bottom, one optimizer step is: for each of ``accum_steps`` micro-batches, forward the
method (losses), backward (DDP syncs gradients on the last micro-batch only); then clip, step,
update the EMA expert once, log, and checkpoint every ``train.checkpoint_every`` steps.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from saip.config.load import ConfigError, resume_config, to_yaml
from saip.config.schema import RunConfig
from saip.data.image_source import SkippingImageSource, read_skip_log
from saip.errors import InputError
from saip.methods.base import ScheduleValues
from saip.pretrain.alarms import AlarmMonitor, TrainingDiverged, TrainingInterrupted
from saip.pretrain.atomic import atomic_write_text
from saip.pretrain.builder import (
    build_method,
    build_source,
    build_view_config,
    build_view_pipeline,
    prerender_if_revisited,
)
from saip.pretrain.checkpoint import load_checkpoint, rng_state, save_backbone, save_checkpoint, set_rng_state
from saip.pretrain.compile import compile_step_model, compiled_schedule
from saip.pretrain.distributed import DistInfo, all_reduce_mean, cleanup, init_distributed, sync_batchnorm
from saip.pretrain.finite import count_non_finite, grad_norm
from saip.pretrain.metrics_log import MetricsLogger
from saip.pretrain.optim import build_optimizer, fused_adamw_available
from saip.pretrain.precision import autocast_context
from saip.pretrain.run_folder import RunFolder
from saip.pretrain.sampler import EpochSampler
from saip.pretrain.schedules import cosine_lr, cosine_momentum, scaled_lr, teacher_temperature
from saip.pretrain.stop_signals import StopRequests

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} requested but CUDA is not available")
    return device


class Trainer:
    """Owns one run: builds everything from the config, trains, checkpoints, resumes."""

    def __init__(
        self,
        cfg: RunConfig,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = True,
        overrides: Sequence[str] = (),
    ):
        """``resume``: continue ``cfg.out`` from its checkpoint, with the config saved there plus the
        resume-safe ``overrides`` (:func:`saip.config.resume_config`); other keys are refused."""
        self.folder = RunFolder(cfg.out)
        self.run_dir, self.ckpt_path = self.folder.path, self.folder.last
        self.folder.prepare(resume, overwrite, is_main=int(os.environ.get("RANK", 0)) == 0)
        self.resume_state = None
        if resume:
            try:
                self.resume_state = load_checkpoint(self.ckpt_path)
            except InputError as error:
                raise ConfigError(f"--resume: {error}") from error
            cfg = resume_config(self.resume_state["config"], [*overrides, f"out={self.run_dir}"])
        self.cfg = cfg
        t = cfg.train
        self.device = resolve_device(t.device)
        self.dist: DistInfo = init_distributed(self.device.type)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        self.progress = progress and self.dist.is_main
        torch.manual_seed(t.seed + self.dist.rank)

        if cfg.data.needs_real_data and not cfg.data.root and self.dist.is_main:
            log.warning(
                "\n%s\nThis is a paper recipe, but data.root is not set: it trains on the EMBEDDED "
                "SYNTHETIC persons (%d images), not on LUPerson. Set data.root=/path/to/LUP1M.\n%s",
                "!" * 100,
                cfg.data.synthetic_identities * cfg.data.synthetic_images_per_id,
                "!" * 100,
            )
        self.view_config = build_view_config(cfg)
        source = prerender_if_revisited(build_source(cfg), cfg, self.dist.world_size)
        self.skip_log = self.folder.skip_log
        if isinstance(source, SkippingImageSource):
            if self.dist.is_main and resume is False:
                self.skip_log.unlink(missing_ok=True)  # a new run starts a new record
            source.record_skips_to(self.skip_log)
        # views built in the loader workers (PIL) or on the device after .to() (data.view_device)
        self.dataset, self.collate, self.view_transform = build_view_pipeline(
            cfg, source, self.view_config, self.device
        )
        self.sampler = EpochSampler(len(self.dataset), t.seed, self.dist.rank, self.dist.world_size)
        batches_per_epoch = self.sampler.per_rank() // t.batch_size
        if batches_per_epoch < t.accum_steps:
            raise ConfigError(
                f"train.batch_size={t.batch_size} x accum_steps={t.accum_steps}: the dataset "
                f"({len(self.dataset)} images) is too small for one optimizer step"
            )
        self.steps_per_epoch = batches_per_epoch // t.accum_steps
        self.total_steps = t.max_steps or t.epochs * self.steps_per_epoch
        self.warmup_steps = int(round(t.warmup_fraction * self.total_steps))
        self.teacher_temp_warmup = int(round(cfg.objectives.teacher_temp_warmup_fraction * self.total_steps))
        self.global_batch = t.batch_size * t.accum_steps * self.dist.world_size
        self.peak_lr = scaled_lr(t.base_lr, self.global_batch)

        self.method = sync_batchnorm(build_method(cfg), self.dist, self.device.type).to(self.device)
        self.model = self.method
        if self.dist.enabled:
            self.model = DistributedDataParallel(
                self.method, device_ids=[self.dist.local_rank] if self.device.type == "cuda" else None
            )
        if t.compile:  # static graphs per rescale bucket when data.views.scale_set is given
            options = {"mode": t.compile_mode} if t.compile_mode else {}
            self.model = compile_step_model(self.model, self.view_config, **options)
        self.optimizer = build_optimizer(
            self.method,
            self.peak_lr,
            t.weight_decay,
            tuple(t.betas),
            fused=fused_adamw_available(self.device),
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.amp == "fp16")
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.saved_step: int | None = None  # step of the checkpoint on disk that this run wrote or resumed
        self.stop, self.stop_now = StopRequests(), False
        self.window_steps: dict[str, int] = {}  # per logged key: optimizer steps summed in the window
        if self.resume_state is not None:
            self._restore(self.resume_state)
            self.saved_step = self.step
            if self.step > self.total_steps:
                raise ConfigError(
                    f"train.max_steps/epochs: the run is at step {self.step}, beyond the {self.total_steps} "
                    "steps asked for"
                )
        self.logger = MetricsLogger(
            self.run_dir,
            enabled=self.dist.is_main,
            resume_step=self.step if self.resume_state is not None else None,
        )
        self.alarms = AlarmMonitor(stop_on_collapse=t.stop_on_collapse)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", to_yaml(cfg))

    # ------------------------------------------------------------------------------ schedules
    def schedule(self, step: int) -> ScheduleValues:
        t, o, e = self.cfg.train, self.cfg.objectives, self.cfg.expert
        return ScheduleValues(
            step=step,
            total_steps=self.total_steps,
            lr=cosine_lr(step, self.total_steps, self.peak_lr, self.warmup_steps, t.min_lr),
            weight_decay=t.weight_decay,
            momentum=cosine_momentum(step, self.total_steps, e.momentum_start, e.momentum_end),
            teacher_temp=teacher_temperature(
                step, self.teacher_temp_warmup, o.teacher_temp_start, o.teacher_temp
            ),
            progress=step / max(1, self.total_steps),
            log=(step + 1) % t.log_every == 0 or step + 1 == self.total_steps,
        )

    # ------------------------------------------------------------------------------ state
    def _state(self) -> dict:
        return {
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "rng": rng_state(),
            "config": asdict(self.cfg),
            "total_steps": self.total_steps,
            "world_size": self.dist.world_size,
        }

    def _restore(self, state: dict) -> None:
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if state.get("world_size", 1) != self.dist.world_size:
            log.warning(
                "resuming with %d processes (checkpoint: %d): data order differs from an uninterrupted run",
                self.dist.world_size,
                state.get("world_size", 1),
            )
        set_rng_state(state["rng"])

    def save(self) -> None:
        """Write ``last.pt`` atomically, never with a non-finite tensor in it (raises instead)."""
        if not self.dist.is_main:
            return
        state = self._state()
        bad, total = count_non_finite({k: state[k] for k in ("method", "optimizer", "scaler")})
        if bad:
            raise self._diverged(self.step, f"{bad} of {total} state tensors are non-finite after the update")
        save_checkpoint(self.ckpt_path, state)
        self.folder.keep_step_copy(self.step, self.cfg.train.keep_checkpoints)
        self.saved_step = self.step

    def _diverged(self, step: int, what: str) -> TrainingDiverged:
        """The NaN/inf stop, naming the step as the logs count it and what is (or is not) kept."""
        if self.saved_step is None:
            kept = (
                f"No checkpoint was written yet (train.checkpoint_every={self.cfg.train.checkpoint_every}), "
                "so there is nothing to resume; start again with a lower lr or train.amp=off"
            )
        else:
            kept = (
                f"The last good checkpoint (step {self.saved_step}, {self.ckpt_path}) is kept; "
                "resume from it with a lower lr or train.amp=off"
            )
        return TrainingDiverged(f"step {step}: {what}; stopping. {kept}.")

    # ------------------------------------------------------------------------------ training
    def _loader(self) -> DataLoader:
        t = self.cfg.train
        self.dataset.set_epoch(self.epoch)
        self.sampler.set_epoch(self.epoch, start=self.batch_in_epoch * t.batch_size)
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.dataset,
            batch_size=t.batch_size,
            sampler=self.sampler,
            num_workers=workers,
            collate_fn=self.collate,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=4 if workers > 0 else None,
        )

    def train(self, stop_after: int | None = None) -> Path:
        """Run until ``total_steps`` (or, with ``stop_after``, until that global step, leaving a resumable
        checkpoint); returns the run folder. Raises :class:`TrainingDiverged` on NaN/collapse and
        :class:`TrainingInterrupted` (after checkpointing) on SIGTERM/SIGUSR1."""
        t = self.cfg.train
        end_step = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=self.total_steps, initial=self.step, desc="pretrain", unit="step", dynamic_ncols=True
            )
        window: dict[str, torch.Tensor] = {}
        window_count, window_start, warnings = 0, time.perf_counter(), []
        self.stop_now = False
        batches_per_epoch = self.steps_per_epoch * t.accum_steps
        with self.stop:  # SIGTERM/SIGUSR1 -> checkpoint and stop after this step
            try:
                while self.step < end_step:
                    if self.batch_in_epoch >= batches_per_epoch:
                        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                    batches = iter(self._loader())
                    while self.step < end_step and self.batch_in_epoch < batches_per_epoch:
                        sched = self.schedule(self.step)
                        loss = self._optimizer_step(batches, sched, window)
                        self.step += 1
                        window_count += 1
                        if self.step % t.log_every == 0 or self.step == self.total_steps:
                            warnings = self._log(window, window_count, window_start, sched)
                            window, window_count, window_start = {}, 0, time.perf_counter()
                        if self.step % t.checkpoint_every == 0 and self.step < self.total_steps:
                            self.save()
                        if self._probe_due():
                            self._probe_now()
                        if bar is not None:
                            bar.update(1)
                            bar.set_postfix_str(
                                f"loss {loss:.3f}" + (f" | {warnings[0]}" if warnings else "")
                            )
                        if self.stop_now:
                            self.save()
                            raise TrainingInterrupted(
                                f"stopped by {self.stop.received or 'a signal on another rank'} after step "
                                f"{self.step}; checkpoint written to {self.ckpt_path}; continue with "
                                f"saip pretrain --resume auto --out {self.run_dir}"
                            )
                self.save()
            finally:
                if bar is not None:
                    bar.close()
                self.logger.close()
        skipped = read_skip_log(self.skip_log) if self.dist.is_main else []
        if skipped:
            log.warning(
                "skipped %d unreadable image(s) in this run (first: %s); all are listed in %s",
                len(skipped),
                skipped[0],
                self.skip_log,
            )
        if self.dist.is_main and self.step >= self.total_steps:
            v = self.view_config
            save_backbone(
                self.run_dir, self.method.student, self.cfg.model.backbone, list(v.mean), list(v.std)
            )
        return self.run_dir

    def _probe_due(self) -> bool:
        """Whether a mid-run probe follows this step: the same answer on every rank, which all probe."""
        p = self.cfg.probe
        return p.enabled and p.every > 0 and self.step % p.every == 0 and (self.step < self.total_steps)

    def _probe_now(self) -> None:
        """Mid-run probe (``probe.every``): log trained and random-init scores as ``probe/*`` scalars.

        Under DDP every rank probes its share of the probe batches and gets the gathered result
        (:mod:`saip.pretrain.probe_shards`): no rank idles in the next collective meanwhile."""
        from saip.pretrain.probe_hook import probe_student

        v = self.view_config
        result = probe_student(self.cfg, self.method.student, v.mean, v.std, self.device)
        scalars = {f"probe/{k}": float(val) for k, val in result["trained"].items()}
        scalars.update({f"probe/margin_{k}": float(val) for k, val in result["margin"].items()})
        self.logger.log(self.step, scalars)
        if self.dist.is_main:
            log.info("step %d probe: %s", self.step, scalars)

    def _optimizer_step(self, batches, sched: ScheduleValues, window: dict[str, torch.Tensor]) -> float:
        """One optimizer step over ``accum_steps`` micro-batches; accumulates logged values in ``window``.

        Logged values stay 0-d tensors on the device (summed without a host sync); the only sync
        per step reads the total loss and the gradient norm for the finiteness check and the progress bar.
        """
        t = self.cfg.train
        for group in self.optimizer.param_groups:
            group["lr"] = sched.lr
        total = torch.zeros((), device=self.device)
        step_sched = compiled_schedule(sched, self.device) if t.compile else sched
        for micro in range(t.accum_steps):
            batch = next(batches).to(self.device, non_blocking=True)
            if self.view_transform is not None:  # device path: build the views from the uint8 batch
                batch = self.view_transform(batch)
            last = micro == t.accum_steps - 1
            sync = contextlib.nullcontext() if (last or not self.dist.enabled) else self.model.no_sync()
            with sync:
                with autocast_context(t.amp, self.device):
                    out = self.model(batch, step_sched)
                self.scaler.scale(out.loss / t.accum_steps).backward()
            for key, value in {"loss": out.loss.detach(), **out.terms, **out.diagnostics}.items():
                window[key] = window.get(key, 0.0) + value.detach().float() / t.accum_steps
                if micro == 0:  # steps that reported this key (diagnostics: log steps only)
                    self.window_steps[key] = self.window_steps.get(key, 0) + 1
            total += out.loss.detach().float() / t.accum_steps
            self.batch_in_epoch += 1
        self.scaler.unscale_(self.optimizer)
        if t.clip_grad:
            norm = torch.nn.utils.clip_grad_norm_(self.method.parameters(), t.clip_grad)
        else:
            norm = grad_norm(self.method.parameters())
        # Before the update (so the weights and the last checkpoint stay good), in one host sync.
        # Gradients are all-reduced under DDP, so every rank sees the same norm; the loss flag and a
        # pending stop signal are all-reduced too, so every rank stops at the same step, never hangs.
        flags = torch.stack(
            [(~torch.isfinite(total)).float(), total.new_tensor(float(self.stop.received is not None))]
        )
        if self.dist.enabled:
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        values = torch.cat([total.view(1), norm.detach().float().to(total.device).view(1), flags])
        loss, norm_value, any_rank_bad, stop = values.tolist()
        if not math.isfinite(loss):
            raise self._diverged(self.step + 1, f"loss is {loss}")
        if any_rank_bad:
            raise self._diverged(self.step + 1, "the loss is non-finite on another rank")
        if math.isfinite(norm_value):
            window["grad_norm"] = window.get("grad_norm", 0.0) + norm.detach().float()
            self.window_steps["grad_norm"] = self.window_steps.get("grad_norm", 0) + 1
        elif not self.scaler.is_enabled():  # fp16's scaler skips such a step and lowers its scale
            raise self._diverged(
                self.step + 1, f"gradient norm is {norm_value} (the loss {loss:.4g} is finite)"
            )
        self.stop_now = bool(stop)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.method.update_expert(sched)
        return loss

    def _log(
        self, window: dict[str, torch.Tensor], count: int, start: float, sched: ScheduleValues
    ) -> list[str]:
        elapsed = time.perf_counter() - start
        keys = sorted(window)
        steps = torch.tensor([float(self.window_steps[k]) for k in keys], device=self.device)
        means = all_reduce_mean(
            torch.stack([window[k] for k in keys]) / steps
        ).tolist()  # one sync + all-reduce
        self.window_steps = {}
        scalars = dict(zip(keys, means, strict=True))
        scalars.update(
            epoch=self.epoch,
            lr=sched.lr,
            momentum=sched.momentum,
            teacher_temp=sched.teacher_temp,
            images_per_s=count * self.global_batch / max(elapsed, 1e-9),
        )
        warnings = self.alarms.check(self.step, scalars, past_warmup=self.step > self.warmup_steps)
        for message in warnings:
            log.warning(message)
        self.logger.log(self.step, scalars)
        return warnings


def pretrain(
    cfg: RunConfig,
    resume: bool | str = False,
    overwrite: bool = False,
    progress: bool = True,
    probe: bool | None = None,
    overrides: Sequence[str] = (),
) -> Path:
    """Pretrain per ``cfg``; writes the run folder and returns it (see README "Run folder").

    ``resume``: ``True`` continues ``cfg.out`` from its checkpoint (applying the resume-safe
    ``overrides``); ``"auto"`` does so when a checkpoint exists and otherwise starts afresh,
    replacing whatever a job killed before its first checkpoint left (for requeued jobs).
    On NaN/inf or collapse the run stops with :class:`TrainingDiverged`; ``checkpoints/last.pt``
    then still holds the last good state. SIGTERM/SIGUSR1 checkpoint and raise
    :class:`TrainingInterrupted`.
    """
    if resume == "auto":
        resume = RunFolder(cfg.out).last.is_file()
        overwrite = overwrite or not resume
    elif not isinstance(resume, bool):
        raise ConfigError(f"--resume: expected no value or 'auto', got {resume!r}")
    trainer = Trainer(cfg, resume=resume, overwrite=overwrite, progress=progress, overrides=overrides)
    try:
        run_dir = trainer.train()
        if (trainer.cfg.probe.enabled if probe is None else probe) and trainer.dist.is_main:
            from saip.pretrain.probe_hook import probe_run

            probe_run(trainer.cfg, run_dir, trainer.device)
        return run_dir
    finally:
        # drop the DDP reducer's process-group reference before destroying the group: a gloo group
        # destroyed later, after the peer has exited, can block in its destructor at exit
        trainer = None  # noqa: F841
        gc.collect()
        cleanup()


__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "pretrain"]
