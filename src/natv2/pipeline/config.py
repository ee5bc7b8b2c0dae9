"""`RunConfig`: the root config of a natv2 run, one section per stage.

Each stage owns its section (a dataclass in its own package, with defaults); this module only
composes them. To add a section, import its class and add ONE line to `RunConfig`:

    search: SearchConfig = field(default_factory=SearchConfig)

The section's keys are then loadable from YAML and presets, overridable with `--set search.x=...`,
listed by `natv2 config keys`, printed by `natv2 config show` and saved in every run directory.

Settings are resolved in this order, later winning:
    dataclass defaults <- preset (--preset; `quickstart` when neither --preset nor --config is
    given) <- config file (--config; it may `extends:` a preset) <- --set KEY=VALUE <- explicit
    values (e.g. --run-dir).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from natv2.config import FieldError, Layer, build_config, config_file_layers, override_layers, preset_layers, values_layer
from natv2.data.config import DataConfig
from natv2.export.config import ExportConfig
from natv2.finetune.config import FinetuneConfig
from natv2.search.config import SearchConfig
from natv2.search.stage import SearchStageConfig
from natv2.train.config import TrainConfig

DEFAULT_PRESET = "quickstart"
"""The preset a command starts from when neither --preset nor --config is given."""


@dataclass(frozen=True)
class RunSection:
    """Settings of the run as a whole (not of any one stage)."""

    seed: int = field(default=0, metadata={"help": "the one seed every stage derives its randomness from"})
    run_dir: str | None = field(default=None, metadata={
        "help": "run directory; null: runs/<preset>-<time> (a fresh one per run)", "volatile": True})
    threads: int | None = field(default=None, metadata={
        "help": "CPU threads for torch; null: all cores", "volatile": True})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={
        "help": "auto: cuda when available, else cpu", "volatile": True})
    progress: bool = field(default=True, metadata={"help": "show progress bars", "volatile": True})

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise FieldError("seed", self.seed, "an integer >= 0")
        if self.threads is not None and self.threads < 1:
            raise FieldError("threads", self.threads, "an integer >= 1, or null for all cores")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as config.yaml in its run directory."""

    run: RunSection = field(default_factory=RunSection)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    search_stage: SearchStageConfig = field(default_factory=SearchStageConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


def config_layers(preset: str | None = None, config_file: str | os.PathLike[str] | None = None,
                  overrides: Iterable[str] = (), values: Mapping[str, Any] | None = None,
                  values_origin: str = "the command line") -> list[Layer]:
    """The layers of a run's settings, lowest priority first (see the module docstring)."""
    if preset is None and config_file is None:
        preset = DEFAULT_PRESET
    layers: list[Layer] = []
    if preset is not None:
        layers += preset_layers(preset)
    if config_file is not None:
        layers += config_file_layers(config_file)
    layers += override_layers(overrides)
    if values:
        layers.append(values_layer(values, values_origin))
    return layers


def resolve_config(preset: str | None = None, config_file: str | os.PathLike[str] | None = None,
                   overrides: Iterable[str] = (), values: Mapping[str, Any] | None = None) -> RunConfig:
    """The validated `RunConfig` for a preset, a config file, `--set` overrides and explicit values,
    with the cross-section checks of `natv2.pipeline.validate` (before any stage can start)."""
    from natv2.pipeline.validate import validate_run_config

    return validate_run_config(build_config(RunConfig, config_layers(preset, config_file, overrides, values)))
