"""What a command's run function receives: parsed arguments, output streams and the wiring from
the common options to a resolved config and an opened run directory."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from natv2.io.artifacts import CONFIG_FILE

if TYPE_CHECKING:
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import RunConfig


@dataclass
class CliContext:
    args: argparse.Namespace
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    run_dir: "RunDir | None" = None  # set by open_run_dir; crash logs go there
    saved_config: str | None = None  # set by run_dir_config when the run's own config.yaml is the base

    @property
    def verbosity(self) -> int:
        """-1 quiet, 0 normal, 1+ verbose."""
        return -1 if getattr(self.args, "quiet", False) else int(getattr(self.args, "verbose", 0) or 0)

    def echo(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def config(self) -> "RunConfig":
        """The run config from --preset / --config / --set / --run-dir."""
        from natv2.pipeline.config import resolve_config

        values = {"run.run_dir": str(self.args.run_dir)} if getattr(self.args, "run_dir", None) else {}
        values.update(self.source_values())
        return resolve_config(preset=self.args.preset, config_file=self.args.config,
                              overrides=self.args.set or [], values=values or None)

    def source_values(self) -> "dict[str, object]":
        """`--source PATH` as the setting it stands for (train.source, an absolute path)."""
        source = getattr(self.args, "source", None)
        return {"train.source": str(Path(source).expanduser().resolve())} if source else {}

    def run_dir_config(self, values: "dict[str, object] | None" = None) -> "RunConfig":
        """The config of a command that works on one run directory (positional RUN_DIR or --run-dir).

        An existing run directory's own config.yaml is the base when neither --config nor --preset is
        given, so `natv2 COMMAND RUN_DIR` resumes exactly what was started; --set and `values` go on top.
        """
        from natv2.pipeline.config import resolve_config

        args = self.args
        if getattr(args, "run_dir_arg", None):
            args.run_dir = args.run_dir_arg
        config_file, preset = args.config, args.preset
        from natv2.io.artifacts import Layout

        saved = Layout(args.run_dir).config if args.run_dir else None
        if saved is not None and config_file is None and preset is None and saved.is_file():
            config_file = str(saved)
            self.saved_config = config_file
        merged = {**dict(values or {}), **self.source_values()}
        if args.run_dir:
            merged["run.run_dir"] = str(args.run_dir)
        return resolve_config(preset=preset, config_file=config_file, overrides=args.set or [], values=merged or None)

    def config_sources(self) -> list[str]:
        """Human-readable list of where the settings came from, lowest priority first."""
        from natv2.pipeline.config import DEFAULT_PRESET

        preset = self.args.preset
        sources = []
        if self.saved_config is not None:
            sources.append(f"the run's saved config {self.saved_config}")
        elif preset is None and self.args.config is None:
            sources.append(f"preset {DEFAULT_PRESET} (default)")
        elif preset is not None:
            sources.append(f"preset {preset}")
        if self.args.config is not None:
            sources.append(f"config file {self.args.config}")
        sources += [f"--set {s}" for s in self.args.set or []]
        if getattr(self.args, "source", None):
            sources.append(f"--source {self.args.source}")
        if getattr(self.args, "run_dir", None):
            sources.append(f"--run-dir {self.args.run_dir}")
        return sources

    def open_run_dir(self, config: "RunConfig", label: str | None = None) -> "RunDir":
        """Create or resume the run directory of `config` (a fresh runs/<label>-<time> when unset)."""
        from natv2.io.rundir import RunDir, default_run_dir
        from natv2.pipeline.run import config_change_policy

        path = Path(config.run.run_dir) if config.run.run_dir else default_run_dir(label or self.args.preset or "run")
        self.run_dir = RunDir.open(path, config, force=bool(getattr(self.args, "force", False)),
                                   change_policy=config_change_policy)
        return self.run_dir


@contextmanager
def stage_session(ctx: CliContext, config: "RunConfig", label: str) -> Iterator[tuple[Any, "RunDir | None", Path]]:
    """(dist, run_dir, path) for a stage command, torchrun-aware: every rank joins the process group,
    rank 0 alone opens (and locks) the run directory, and every rank learns its path. Closes both."""
    from natv2.train.dist import init_distributed
    from natv2.train.run import shared_run_path

    dist = init_distributed(config.run.device)
    try:
        run_dir = ctx.open_run_dir(config, label=label) if dist.is_main else None
        path = shared_run_path(run_dir.path if run_dir else None, dist)
        yield dist, run_dir, path
    finally:
        if ctx.run_dir is not None:
            ctx.run_dir.close()
        dist.close()


def run_stage(ctx: CliContext, config: "RunConfig", name: str, label: str, *, resume: bool = True) -> tuple[Any, Path | None]:
    """A stage command: the pipeline (natv2.pipeline.run) restricted to stage `name`, so that it leaves
    the same files and events as `natv2 run`. Returns (outcome, run directory path on rank 0, else None)."""
    from natv2.pipeline.run import STAGE_BY_NAME, run_pipeline
    from natv2.stage import StageContext

    with stage_session(ctx, config, label=label) as (dist, run_dir, path):
        log = ctx.echo if ctx.verbosity >= 0 and run_dir is not None else (lambda msg: None)
        stage_ctx = StageContext(config=config, run=run_dir, dist=dist, log=log, path=path, resume=resume)
        outcome = run_pipeline(stage_ctx, [STAGE_BY_NAME[name]], explicit=True)[name]
        return outcome, (run_dir.path if run_dir is not None else None)


def add_source_option(parser: argparse.ArgumentParser) -> None:
    """For commands that start a supernet: transfer from a source instead of training from scratch."""
    parser.add_argument("--source", metavar="SOURCE", default=None, help=(
        "transfer: start from a supernet trained once on another dataset (a natv2 run directory, a natv2 "
        "supernet .safetensors, or an `ofa` package .pth checkpoint) with new heads for this dataset's classes; "
        "train-supernet and run warm it up on this dataset (train.recipe), a search on a run without a trained "
        "supernet adapts it while searching (NAT's way). Same as --set train.source=SOURCE"))


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """For commands that open a run directory: allow resuming it with a changed config."""
    parser.add_argument("--force", action="store_true",
                        help=("continue the run directory with changed settings that no stage holding results "
                              f"depends on (the change is logged); a change that would make {CONFIG_FILE} disagree "
                              "with finished or started work is refused, --force or not"))
