"""The `natv2` command line: help for every command, config show, one-paragraph errors (exit 2, no
traceback), internal errors (exit 1, traceback only in a log or with -v), the command registry."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import natv2.cli.main as cli_main
from natv2.cli.commands import COMMAND_MODULES, load_commands
from natv2.cli.registry import Command, build_parser
from natv2.config import load_config
from natv2.pipeline.config import RunConfig, resolve_config

from _real_data import cifar10_root, data_home

NATV2 = Path(sys.executable).parent / "natv2"
REPO = Path(__file__).resolve().parents[1]


def natv2(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("NATV2_DEBUG", None) if "NATV2_DEBUG" not in (env or {}) else None
    return subprocess.run([str(NATV2), *args], capture_output=True, text=True, timeout=120, env=full_env)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = cli_main.main(list(args))
    except SystemExit as exit_:  # argparse: --help, usage errors
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------- through the installed script
def test_help_lists_every_command():
    res = natv2("--help")
    assert res.returncode == 0, res.stderr
    for cmd in load_commands():
        assert cmd.name in res.stdout
    for option in ("--config", "--preset", "--set", "--run-dir"):
        assert option in res.stdout


def test_config_show_preset_with_override():
    res = natv2("config", "show", "--preset", "quickstart", "--set", "run.seed=3")
    assert res.returncode == 0, res.stderr
    data = yaml.safe_load(res.stdout)
    assert data["run"]["seed"] == 3
    assert load_config(RunConfig, data) == resolve_config(preset="quickstart", overrides=["run.seed=3"])
    assert "preset quickstart" in res.stdout.splitlines()[0]


def test_config_typo_is_one_paragraph_exit_2_no_traceback():
    res = natv2("config", "show", "--set", "data.nme=x")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert res.stderr.startswith("natv2: error: ") and "data.nme" in res.stderr and '"x"' in res.stderr
    assert "fix: did you mean 'data.name'" in res.stderr


def test_datasets_finds_the_test_cifar10_where_natv2_data_points():
    home = data_home()
    res = natv2("datasets", env={"NATV2_DATA": str(home)})
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l[2:].startswith("cifar10 "))
    assert "found" in line and Path(line.split()[-1]).resolve() == cifar10_root().resolve()


# ---------------------------------------------------------------------- in-process
def test_every_command_has_help(capsys):
    def walk(cmds, trail=()):
        for cmd in cmds:
            yield trail + (cmd.name,), cmd
            yield from walk(cmd.subcommands, trail + (cmd.name,))

    for path, cmd in walk(load_commands()):
        code, out, _ = run_main(capsys, *path, "--help")
        assert code == 0 and out.startswith("usage: natv2 " + " ".join(path)), path
        assert (cmd.description or cmd.help).splitlines()[0] in out


def test_common_options_before_or_after_the_command(capsys):
    code, out, _ = run_main(capsys, "--preset", "cifar10", "--set", "run.seed=1", "config", "show",
                            "--set", "data.batch_size=16", "--run-dir", "runs/x")
    assert code == 0
    data = yaml.safe_load(out)
    assert data["run"]["seed"] == 1 and data["data"]["batch_size"] == 16 and data["run"]["run_dir"] == "runs/x"
    assert data["data"]["val_size"] == resolve_config(preset="cifar10").data.val_size


def test_config_file_and_keys(capsys, tmp_path):
    f = tmp_path / "my.yaml"
    f.write_text("extends: tiny-imagenet\nrun:\n  seed: 9\n")
    code, out, _ = run_main(capsys, "config", "show", "--config", str(f))
    assert code == 0 and yaml.safe_load(out)["data"]["name"] == "tiny-imagenet"
    code, out, _ = run_main(capsys, "config", "keys", "data")
    assert code == 0 and "data.batch_size" in out and "run.seed" not in out
    code, _, err = run_main(capsys, "config", "keys", "nosuch")
    assert code == 2 and "no config section" in err


def test_group_without_subcommand_is_a_usage_error(capsys):
    code, out, err = run_main(capsys, "config")
    assert code == 2 and "show" in err
    code, out, _ = run_main(capsys)
    assert code == 0 and "commands" in out


def test_presets_command(capsys):
    code, out, _ = run_main(capsys, "presets")
    assert code == 0
    for name in ("quickstart", "cifar10", "tiny-imagenet"):
        assert name in out


@dataclass(frozen=True)
class _Entry:
    name: str
    found: bool
    location: str
    note: str


def test_datasets_command_uses_list_datasets(capsys, monkeypatch):
    import natv2.data

    seen = {}

    def fake(cfg=None):
        seen["cache_dir"] = cfg.cache_dir
        return [_Entry("cifar10", True, "/data/cifar10", ""), _Entry("mnist-x", False, "", "download it")]

    monkeypatch.setattr(natv2.data, "list_datasets", fake, raising=False)
    code, out, _ = run_main(capsys, "datasets", "--set", "data.cache_dir=/c")
    assert code == 0 and seen["cache_dir"] == "/c"
    assert "* cifar10" in out and "/data/cifar10" in out and "missing" in out and "download it" in out
    code, out, _ = run_main(capsys, "datasets", "--json")
    assert code == 0 and '"location": "/data/cifar10"' in out


def _with_commands(monkeypatch, *commands: Command) -> None:
    monkeypatch.setattr(cli_main, "load_commands", lambda: list(commands))


def test_internal_error_is_short_and_logged(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("NATV2_DEBUG", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def boom(ctx):
        raise ZeroDivisionError("deliberate")

    _with_commands(monkeypatch, Command("boom", "crash", run=boom))
    code, _, err = run_main(capsys, "boom")
    assert code == 1 and "Traceback" not in err
    assert "ZeroDivisionError: deliberate" in err and "-v" in err
    logs = list(tmp_path.glob("natv2-crash-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and str(logs[0]) in err
    code, _, err = run_main(capsys, "boom", "-v")
    assert code == 1 and "Traceback" in err
    monkeypatch.setenv("NATV2_DEBUG", "1")
    code, _, err = run_main(capsys, "boom")
    assert code == 1 and "Traceback" in err


def test_interrupt_exits_130(capsys, monkeypatch):
    def stop(ctx):
        raise KeyboardInterrupt

    _with_commands(monkeypatch, Command("stop", "interrupt", run=stop))
    code, _, err = run_main(capsys, "stop")
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_busy_run_dir_is_one_paragraph(capsys, monkeypatch, tmp_path):
    from natv2.io.rundir import RunDir

    def opens(ctx):
        ctx.open_run_dir(ctx.config())

    _with_commands(monkeypatch, Command("go", "open the run dir", run=opens))
    with RunDir.open(tmp_path / "run"):
        code, _, err = run_main(capsys, "go", "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err.startswith("natv2: error: run directory") and "fix:" in err
    code, _, err = run_main(capsys, "go", "--run-dir", str(tmp_path / "run"))
    assert code == 0, err  # the command's run directory is closed (unlocked) when main returns
    assert RunDir.read(tmp_path / "run").read_events()[-1].event == "resumed"


def test_registry_refuses_duplicates_and_malformed_commands():
    with pytest.raises(ValueError, match="twice"):
        build_parser([Command("a", "x", run=print), Command("a", "y", run=print)])
    with pytest.raises(ValueError, match="exactly one"):
        Command("b", "neither")
    assert len(COMMAND_MODULES) == len(load_commands())


def test_every_setting_a_help_text_suggests_exists(capsys):
    """The `--set KEY=...` examples of every command's help name real keys, and no `{...}` placeholder is left."""
    import re

    from natv2.config import schema_keys
    from natv2.pipeline.config import RunConfig

    keys = {k.key for k in schema_keys(RunConfig)}

    def walk(cmds, trail=()):
        for cmd in cmds:
            yield trail + (cmd.name,)
            yield from walk(cmd.subcommands, trail + (cmd.name,))

    for path in walk(load_commands()):
        code, out, _ = run_main(capsys, *path, "--help")
        flat = " ".join(out.split())
        assert not re.search(r"\{[A-Z_]+\}", flat), (path, "unformatted placeholder")
        for key in re.findall(r"--set '?([a-z_]+(?:\.[a-z_0-9]+)+)=", flat):
            assert key in keys or any(key.startswith(k + ".") for k in keys), (path, key)
