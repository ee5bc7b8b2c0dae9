"""Commands as data: each is a `Command` (name, help, argparse set-up, run function) and the parser
is built from the list, so adding a command never touches a dispatch chain.

Options every command accepts (--config, --preset, --set, --run-dir, -v, -q) may be written before
or after the command name; `merge_common` folds the two spellings into one namespace.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from natv2.cli.context import CliContext

_SUB = "sub__"  # dest prefix of the after-the-command spelling of common options

CommandFn = Callable[["CliContext"], "int | None"]
ConfigureFn = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One `natv2 NAME` command; `subcommands` make it a group (`natv2 config show`)."""

    name: str
    help: str  # one line, shown in `natv2 --help`
    run: CommandFn | None = None
    configure: ConfigureFn | None = None  # adds the command's own arguments
    description: str = ""  # shown in `natv2 NAME --help`; defaults to `help`
    epilog: str = ""  # examples
    subcommands: tuple["Command", ...] = ()

    def __post_init__(self) -> None:
        if (self.run is None) == (not self.subcommands):
            raise ValueError(f"command {self.name!r} needs exactly one of `run` or `subcommands`")


def _add_common(parser: argparse.ArgumentParser, prefix: str, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("options for every command")
    group.add_argument("--config", metavar="FILE", dest=prefix + "config", default=default,
                       help="YAML config file (may `extends:` a preset); see `natv2 config keys`")
    group.add_argument("--preset", metavar="NAME", dest=prefix + "preset", default=default,
                       help="start from a shipped preset (`natv2 presets`); default: quickstart unless --config is given")
    group.add_argument("--set", metavar="KEY=VALUE", dest=prefix + "set", action="append",
                       default=argparse.SUPPRESS if suppress else [],
                       help="override one setting, e.g. --set data.batch_size=128 or --set search_stage.space.r=[32]; repeatable")
    group.add_argument("--run-dir", metavar="DIR", dest=prefix + "run_dir", default=default,
                       help="run directory to create or resume (sets run.run_dir)")
    group.add_argument("-v", "--verbose", dest=prefix + "verbose", action="count",
                       default=argparse.SUPPRESS if suppress else 0,
                       help="more output; also prints tracebacks of internal errors")
    group.add_argument("-q", "--quiet", dest=prefix + "quiet", action="store_true", default=default or False,
                       help="only warnings and errors")


COMMON_DESTS = ("config", "preset", "set", "run_dir", "verbose", "quiet")


def merge_common(args: argparse.Namespace) -> argparse.Namespace:
    """Fold options given after the command name into those given before it (lists append)."""
    for dest in COMMON_DESTS:
        sub = _SUB + dest
        if hasattr(args, sub):
            value = getattr(args, sub)
            delattr(args, sub)
            if dest in ("set",):
                setattr(args, dest, list(getattr(args, dest) or []) + list(value))
            elif dest == "verbose":
                setattr(args, dest, int(getattr(args, dest) or 0) + int(value))
            else:
                setattr(args, dest, value)
    return args


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)


def _add_commands(subparsers: argparse._SubParsersAction, commands: Sequence[Command], trail: str) -> None:
    seen: set[str] = set()
    for cmd in commands:
        if cmd.name in seen:
            raise ValueError(f"command {trail}{cmd.name!r} is registered twice")
        seen.add(cmd.name)
        parser = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help,
                                       epilog=cmd.epilog or None, formatter_class=_Formatter)
        if cmd.subcommands:
            nested = parser.add_subparsers(title="commands", metavar="COMMAND")
            _add_commands(nested, cmd.subcommands, f"{trail}{cmd.name} ")
            parser.set_defaults(_run=None, _parser=parser, _command=f"{trail}{cmd.name}")
        else:
            if cmd.configure is not None:
                cmd.configure(parser)
            _add_common(parser, _SUB, suppress=True)
            parser.set_defaults(_run=cmd.run, _parser=parser, _command=f"{trail}{cmd.name}")


def build_parser(commands: Sequence[Command], *, prog: str = "natv2", description: str = "",
                 epilog: str = "", version: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog or None,
                                     formatter_class=_Formatter)
    if version:
        parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    _add_common(parser, "", suppress=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_commands(sub, commands, "")
    parser.set_defaults(_run=None, _parser=parser, _command="")
    return parser
