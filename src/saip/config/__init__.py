"""Run configuration: typed schema, shipped recipes, dotted overrides."""

from saip.config.load import (
    ConfigError,
    config_from_dict,
    list_recipes,
    load_config,
    resume_config,
    to_yaml,
    validate,
)
from saip.config.schema import RunConfig

__all__ = [
    "ConfigError",
    "config_from_dict",
    "RunConfig",
    "list_recipes",
    "load_config",
    "resume_config",
    "to_yaml",
    "validate",
]
