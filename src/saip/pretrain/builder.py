"""Turn a :class:`RunConfig` into the objects of a run: data source, views, method."""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

from saip.backbones import create_backbone
from saip.config.load import ConfigError
from saip.config.schema import RunConfig
from saip.data import PersonImageFolder, SAIPViewConfig
from saip.methods.base import PretrainMethod


def build_view_config(cfg: RunConfig) -> SAIPViewConfig:
    """The view config of a run: ``data.views`` overrides, with unneeded views switched off.

    CSR's masked view is only made when CSR is on; the canvas only when CSS (or DPAL's relation
    term) needs it; rescaled copies only for CSM.
    """
    o = cfg.objectives
    values: dict[str, Any] = dict(cfg.data.views)
    if cfg.method == "dpal":
        values.setdefault("make_csr", False)
        values.setdefault("make_canvas", cfg.dpal.relation_weight > 0)
        values.setdefault("n_scaled", 0)
    else:
        values.setdefault("make_csr", o.csr_weight > 0)
        values.setdefault("make_canvas", o.css_weight > 0)
        if o.csm_weight == 0:
            values.setdefault("n_scaled", 0)
    n_local = values.get("n_local", SAIPViewConfig.n_local)
    if n_local == 0:
        values.setdefault("canvas_persons", ("global0", "global1"))
    try:
        return SAIPViewConfig.from_dict(values)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"data.views: {error}") from error


def build_view_pipeline(cfg: RunConfig, source, views: SAIPViewConfig, device) -> tuple[Any, Any, Any]:
    """``(dataset, collate_fn, device_transform)`` per ``data.view_device``.

    Loader path: ``ViewDataset`` + ``SAIPCollate``, no transform. Device path
    (:mod:`saip.data.device_views`): workers decode and draw the parameters, and the loop calls the
    transform on each batch after moving it to the device; both give the same ``SAIPBatch`` layout.
    """
    from saip.data import SAIPCollate, ViewDataset
    from saip.data.device_views import (
        DecodedViewDataset,
        DeviceViewCollate,
        DeviceViewTransform,
        views_on_device,
    )

    seed = cfg.train.seed
    if not views_on_device(cfg.data.view_device, device):
        return ViewDataset(source, views, seed=seed), SAIPCollate(views, seed=seed), None
    decode_size = tuple(cfg.data.decode_size) if cfg.data.decode_size else None
    dataset = DecodedViewDataset(source, views, seed=seed, decode_size=decode_size)
    return dataset, DeviceViewCollate(views, seed=seed), DeviceViewTransform(views)


def build_source(cfg: RunConfig):
    """Person images: a folder (``data.root``), tar shards (``data.shards``) or the synthetic persons.

    A folder is checked up front (it exists, holds images, at least one decodes), so bad data ends
    in one line naming ``data.root``/``data.file_list`` before any run folder is written.
    """
    if cfg.data.root or cfg.data.shards:
        option = (
            "data.shards"
            if cfg.data.shards
            else "data.file_list"
            if cfg.data.file_list
            else "data.root (--data)"
        )
        try:
            if cfg.data.shards:
                from saip.data.shard_source import ShardImageSource

                source = ShardImageSource(cfg.data.shards)
            else:
                source = _shared_folder(cfg)
            source[0]  # decodes the first readable image; raises if none is
        except (OSError, ValueError) as error:
            raise ConfigError(f"{option}: {error}") from error
        return source
    from saip.synth import SyntheticPersonDataset

    return SyntheticPersonDataset(
        identities=cfg.data.synthetic_identities,
        images_per_id=cfg.data.synthetic_images_per_id,
        seed=cfg.train.seed,
        num_cameras=cfg.data.synthetic_cameras,
        size=tuple(cfg.data.views.get("global_size", (256, 128))),
        labels=False,
    )


def prerender_if_revisited(source, cfg: RunConfig, world_size: int = 1):
    """The embedded synthetic persons rendered once into memory when the run sees them more than once.

    The DataLoader's workers start afresh every epoch, so an on-demand synthetic person is drawn again
    in every epoch (~5 ms of CPU each at 128x64); past one epoch (or with ``max_steps`` covering more
    samples than the dataset holds), :class:`saip.synth.prerendered.PrerenderedPersons` draws each
    once, in ``data.num_workers`` processes, with pixel-identical items. Other sources, runs of at
    most one epoch and worlds too large for memory are returned unchanged.
    """
    from saip.synth import SyntheticPersonDataset
    from saip.synth.prerendered import PrerenderedPersons

    if not isinstance(source, SyntheticPersonDataset) or source.labels or not PrerenderedPersons.fits(source):
        return source
    t = cfg.train
    if t.max_steps:
        revisited = t.max_steps * t.batch_size * t.accum_steps * world_size > len(source)
    else:
        revisited = t.epochs > 1
    return PrerenderedPersons(source, processes=max(1, cfg.data.num_workers)) if revisited else source


def _shared_folder(cfg: RunConfig) -> PersonImageFolder:
    """The image folder, its file index built by rank 0 only; the other ranks read the cached index."""
    distributed = dist.is_available() and dist.is_initialized()
    if distributed and dist.get_rank() != 0:
        dist.barrier()  # rank 0 is walking the folder
        return PersonImageFolder(cfg.data.root, file_list=cfg.data.file_list)
    try:
        return PersonImageFolder(cfg.data.root, file_list=cfg.data.file_list, rescan=cfg.data.rescan)
    finally:
        if distributed:
            dist.barrier()


def build_student(cfg: RunConfig):
    m = cfg.model
    try:
        return create_backbone(
            m.backbone, img_size=tuple(m.img_size), weights=m.weights, drop_path_rate=m.drop_path
        )
    except (OSError, ValueError, KeyError) as error:
        option = f"model.weights={m.weights}" if m.weights else f"model.backbone={m.backbone!r}"
        raise ConfigError(f"{option}: {error}") from error


def build_frozen_expert(cfg: RunConfig, student):
    """The frozen pretrained expert of SAIP*/DPAL (``expert.teacher``), fed the student's normalised views."""
    from saip.teachers import build_teacher

    views = build_view_config(cfg)
    try:
        return build_teacher(
            cfg.expert.teacher,
            student_stride=student.stride,
            img_size=tuple(cfg.expert.teacher_img_size or cfg.model.img_size),
            input_mean=views.mean,
            input_std=views.std,
        )
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"expert.teacher={cfg.expert.teacher!r}: {error}") from error


def build_method(cfg: RunConfig) -> PretrainMethod:
    """SAIP (EMA expert), SAIP* (frozen expert) or DPAL, per ``method``."""
    student = build_student(cfg)
    if cfg.method == "dpal":
        from saip.methods.dpal import DPALMethod

        return DPALMethod(student, build_frozen_expert(cfg, student), cfg.dpal)
    from saip.methods.saip import SAIPMethod

    frozen = cfg.method == "saip_star" or cfg.expert.kind == "frozen"
    expert = build_frozen_expert(cfg, student) if frozen else None
    return SAIPMethod(student, cfg.objectives, frozen_expert=expert)
