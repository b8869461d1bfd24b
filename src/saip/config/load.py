"""Loading, merging and validating run configs: YAML recipes + dotted command-line overrides.

Configs are data: YAML is parsed with ``yaml.safe_load`` semantics (OmegaConf), never evaluated.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from saip.config.schema import (
    AMP_MODES,
    COMPILE_MODES,
    CSM_CENTERINGS,
    EXPERT_KINDS,
    FEATURE_PAIRINGS,
    METHODS,
    RESUME_SAFE_KEYS,
    VIEW_DEVICES,
    RunConfig,
)
from saip.errors import InputError


class ConfigError(InputError):
    """A config file or override is invalid; the message names the key or file."""


def list_recipes() -> list[str]:
    """Names of the recipes shipped in ``saip/configs``."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in resources.files("saip.configs").iterdir()
        if p.name.endswith(".yaml")
    )


def _recipe_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    packaged = resources.files("saip.configs") / f"{name_or_path}.yaml"
    if not packaged.is_file():
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; shipped recipes: {', '.join(list_recipes())} "
            "(or give a path to a .yaml file)"
        )
    return Path(str(packaged))


def _merge_file(base: DictConfig, path: Path) -> DictConfig:
    try:
        data = OmegaConf.load(path)
    except Exception as error:  # noqa: BLE001 - name the file whatever the parser says
        raise ConfigError(f"{path}: cannot parse YAML: {error}") from error
    parent = data.pop("base", None) if isinstance(data, DictConfig) else None
    if parent is not None:
        base = _merge_file(base, _recipe_path(str(parent)))
    try:
        return OmegaConf.merge(base, data)
    except (ConfigKeyError, ValidationError, OmegaConfBaseException) as error:
        raise ConfigError(f"{path}: {_describe(error)}") from error


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    msg = str(error).splitlines()[0]
    return f"key {key!r}: {msg}" if key else msg


def load_config(recipe: str | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Build a validated :class:`RunConfig` from defaults, an optional recipe and dotted overrides.

    ``recipe`` is a shipped recipe name (``vit_tiny_paper``) or a YAML path; a recipe may name a
    ``base:`` recipe it extends. ``overrides`` are ``key.sub=value`` strings
    (``train.epochs=5``, ``data.root=/data/lup``).
    """
    cfg = OmegaConf.structured(RunConfig)
    if recipe:
        cfg = _merge_file(cfg, _recipe_path(recipe))
    run: RunConfig = OmegaConf.to_object(_apply_overrides(cfg, overrides or []))
    validate(run)
    return run


def _override_key(item: str) -> str:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.sub=value")
    return item.split("=", 1)[0].strip()


def _apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    for item in overrides:
        key = _override_key(item)
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{key}={item.split('=', 1)[1]}"]))
        except (ConfigKeyError, ValidationError, OmegaConfBaseException) as error:
            raise ConfigError(f"override {item!r}: {_describe(error)}") from error
    return cfg


def resume_config(saved: dict, overrides: list[str]) -> RunConfig:
    """The config of a resumed run: the checkpoint's, with the ``overrides`` that are safe to change.

    Safe (:data:`RESUME_SAFE_KEYS`): more (or fewer) steps/epochs, a moved data folder, workers,
    logging/checkpoint intervals, the device, the probe. Any other key that would get a value other
    than the saved one makes the resumed run a different training and is refused, naming the key
    (the same value is accepted, so a requeued job can repeat its whole command line).
    """
    if isinstance(saved.get("data"), dict) and "view_device" not in saved["data"]:
        # saved before data.view_device existed: those runs built their views in the loader
        saved = {**saved, "data": {**saved["data"], "view_device": "loader"}}
    base = OmegaConf.structured(config_from_dict(saved))
    merged = _apply_overrides(base, overrides)
    for item in overrides:
        key = _override_key(item)
        safe = any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUME_SAFE_KEYS)
        if not safe and OmegaConf.select(merged, key) != OmegaConf.select(base, key):
            raise ConfigError(
                f"--resume: {key} cannot change when a run is resumed (saved: "
                f"{OmegaConf.select(base, key)!r}); drop {key}=..., or start a new run with another "
                f"--out. Keys that may change: {', '.join(RESUME_SAFE_KEYS)}"
            )
    run: RunConfig = OmegaConf.to_object(merged)
    validate(run)
    return run


def config_from_dict(values: dict) -> RunConfig:
    """Rebuild a validated :class:`RunConfig` from a plain dict (e.g. the one saved in a checkpoint)."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(RunConfig), OmegaConf.create(values))
    except (ConfigKeyError, ValidationError, OmegaConfBaseException) as error:
        raise ConfigError(f"saved config: {_describe(error)}") from error
    run: RunConfig = OmegaConf.to_object(cfg)
    validate(run)
    return run


def validate(cfg: RunConfig) -> None:
    """Reject values that type-check but make no sense, naming the key."""

    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    need(cfg.method in METHODS, "method", f"must be one of {METHODS}, got {cfg.method!r}")
    need(cfg.expert.kind in EXPERT_KINDS, "expert.kind", f"must be one of {EXPERT_KINDS}")
    need(cfg.train.amp in AMP_MODES, "train.amp", f"must be one of {AMP_MODES}")
    need(
        cfg.train.compile_mode is None or cfg.train.compile_mode in COMPILE_MODES,
        "train.compile_mode",
        f"must be null or one of {COMPILE_MODES}, got {cfg.train.compile_mode!r}",
    )
    need(cfg.train.batch_size >= 1, "train.batch_size", "must be >= 1")
    need(cfg.train.accum_steps >= 1, "train.accum_steps", "must be >= 1")
    need(cfg.train.epochs >= 1, "train.epochs", "must be >= 1")
    need(cfg.train.max_steps is None or cfg.train.max_steps >= 1, "train.max_steps", "must be >= 1")
    need(cfg.train.base_lr > 0, "train.base_lr", "must be > 0")
    need(0 <= cfg.train.warmup_fraction < 1, "train.warmup_fraction", "must be in [0, 1)")
    need(len(cfg.train.betas) == 2, "train.betas", "needs two values")
    need(cfg.train.checkpoint_every >= 1, "train.checkpoint_every", "must be >= 1")
    need(cfg.train.log_every >= 1, "train.log_every", "must be >= 1")
    need(cfg.train.keep_checkpoints >= 1, "train.keep_checkpoints", "must be >= 1")
    for key in ("synthetic_identities", "synthetic_images_per_id", "synthetic_cameras"):
        need(getattr(cfg.data, key) >= 1, f"data.{key}", "must be >= 1")
    need(not (cfg.data.root and cfg.data.shards), "data.shards", "give data.root or data.shards, not both")
    need(cfg.data.view_device in VIEW_DEVICES, "data.view_device", f"must be one of {VIEW_DEVICES}")
    need(
        cfg.data.decode_size is None or (len(cfg.data.decode_size) == 2 and min(cfg.data.decode_size) >= 1),
        "data.decode_size",
        "needs two positive integers (H, W) or null",
    )
    from saip.data.config import SAIPViewConfig

    try:
        SAIPViewConfig.from_dict(dict(cfg.data.views))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"data.views: {error}") from error
    need(
        len(cfg.model.img_size) == 2 and all(s % 16 == 0 for s in cfg.model.img_size),
        "model.img_size",
        "needs two multiples of 16",
    )
    o = cfg.objectives
    for key in ("csm_weight", "csr_weight", "css_weight", "attention_kl_weight", "koleo_weight"):
        need(getattr(o, key) >= 0, f"objectives.{key}", "must be >= 0")
    if cfg.method == "saip":
        need(o.csm_weight + o.csr_weight + o.css_weight > 0, "objectives", "at least one weight must be > 0")
    need(
        o.feature_pairing in FEATURE_PAIRINGS,
        "objectives.feature_pairing",
        f"must be one of {FEATURE_PAIRINGS}",
    )
    need(
        o.csm_centering in CSM_CENTERINGS,
        "objectives.csm_centering",
        f"must be one of {CSM_CENTERINGS}",
    )
    need(o.student_temp > 0 and o.teacher_temp > 0, "objectives.student_temp", "temperatures must be > 0")
    need(
        0 <= cfg.expert.momentum_start <= cfg.expert.momentum_end <= 1,
        "expert.momentum_start",
        "need 0 <= momentum_start <= momentum_end <= 1",
    )
    if cfg.method in ("saip_star", "dpal") or cfg.expert.kind == "frozen":
        need(
            bool(cfg.expert.teacher),
            "expert.teacher",
            f"method {cfg.method!r} / a frozen expert needs a teacher "
            "(e.g. expert.teacher=efficientnet_lite0_imagenet)",
        )


def to_yaml(cfg: RunConfig) -> str:
    """The resolved config as YAML text (written to ``RUN/config.yaml``)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
