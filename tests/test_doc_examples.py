"""Every `natv2 ...` example in the command-line help, the README and docs/*.md is a command natv2 accepts as
written: its command and options parse, a config file it names exists, and each `--set KEY=VALUE` names a key
that exists with a value of the right type. So a renamed key, option or preset fails the suite, not a user."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from natv2.cli.commands import load_commands
from natv2.cli.main import DESCRIPTION, EPILOG
from natv2.cli.registry import build_parser, merge_common
from natv2.config.loader import build_config
from natv2.errors import ConfigError
from natv2.pipeline.config import RunConfig, config_layers

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = re.compile(r"^(?:\.venv/bin/|\$ )?natv2 (.*)$")
# Examples that are templates rather than commands: shell variables, elided arguments, optional parts.
TEMPLATE = ("$COMMON", "...", "[--", "{", "COMMAND")
# Config files shipped in this repository (must exist); others are the user's own (`my.yaml`, a run's config.yaml).
SHIPPED = ("docs/", "src/")


def _markdown_examples(path: Path) -> list[str]:
    """`natv2 ...` commands in a markdown file: lines of fenced code blocks (backslash continuations joined) and
    inline code spans."""
    out, in_code, pending = [], False, ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            in_code, pending = not in_code, ""
            continue
        if in_code:
            text = pending + line.strip()
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            match = PROGRAM.match(text)
            out += [match.group(1)] if match else []
        else:
            out += re.findall(r"`(?:\.venv/bin/)?natv2 ([^`]*)`", line)
    return out


def _help_examples() -> list[str]:
    """`natv2 ...` lines of every command's description and examples, and of `natv2 --help`."""
    texts = [DESCRIPTION, EPILOG]
    stack = list(load_commands())
    while stack:
        cmd = stack.pop()
        texts += [cmd.description, cmd.epilog]
        stack += list(cmd.subcommands)
    joined = [re.sub(r"\\\n\s*", " ", t) for t in texts]  # backslash continuations
    lines = [re.split(r"\s{2,}", line.strip())[0] for t in joined for line in t.splitlines()]  # the command column
    return [m.group(1) for line in lines if (m := PROGRAM.match(line))]


def _examples() -> list[tuple[str, str]]:
    found = [("--help", e) for e in _help_examples()]
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found += [(path.relative_to(ROOT).as_posix(), e) for e in _markdown_examples(path)]
    commands = []
    for where, text in found:
        for part in text.split("&& natv2 "):  # `natv2 export R && natv2 report R`
            part = re.split(r" [>|] ", part)[0].replace("$NATV2_DATA", "/data").strip()  # no shell redirection
            if part and not any(t in part for t in TEMPLATE):
                commands.append((where, part))
    return commands


EXAMPLES = _examples()


def test_the_examples_are_found():
    wheres = {w for w, _ in EXAMPLES}
    assert len(EXAMPLES) > 60 and {"--help", "README.md", "docs/RESULTS.md", "docs/deploy.md"} <= wheres


def _parse(tokens: list[str]):
    parser = build_parser(load_commands())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return merge_common(parser.parse_args(tokens)), ""
        except SystemExit as exit_:
            return None, "" if exit_.code == 0 else err.getvalue().strip().splitlines()[-1]


@pytest.mark.parametrize("where,example", EXAMPLES, ids=[f"{w}:{e[:60]}" for w, e in EXAMPLES])
def test_every_documented_command_is_accepted_as_written(where, example):
    tokens = shlex.split(example, comments=True)
    if all(re.fullmatch(r"[a-z-]+", t) for t in tokens):  # a command named in prose (`natv2 latency-table`)
        tokens.append("--help")
    args, error = _parse(tokens)
    assert not error, f"{where}: `natv2 {example}` is refused: {error}"
    if args is None:  # --help
        return
    config, preset = getattr(args, "config", None), getattr(args, "preset", None)
    if config and config.startswith(SHIPPED):
        assert (ROOT / config).is_file(), f"{where}: `natv2 {example}` names {config}, which does not exist"
    config = config if config and (ROOT / config).is_file() else None
    if preset and preset.isupper():  # a placeholder: `--preset NAME`
        return
    try:
        build_config(RunConfig, config_layers(preset, ROOT / config if config else None,
                                              list(getattr(args, "set", None) or [])))
    except ConfigError as err:
        pytest.fail(f"{where}: `natv2 {example}`: {err.problem}")
