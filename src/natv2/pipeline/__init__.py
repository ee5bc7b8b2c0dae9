"""The pipeline as a whole: the root run config composed of every stage's section."""

from natv2.pipeline.config import DEFAULT_PRESET, RunConfig, RunSection, config_layers, resolve_config

__all__ = ["DEFAULT_PRESET", "RunConfig", "RunSection", "config_layers", "resolve_config"]
