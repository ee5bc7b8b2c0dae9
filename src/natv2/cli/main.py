"""`natv2` entry point: parse, dispatch to the chosen command, and turn failures into one paragraph.

Exit codes: 0 success, 2 bad input (a NatError: config typo, missing data, busy run directory,
also argparse usage errors), 1 internal error (a bug: short message plus where the traceback was
written; -v or NATV2_DEBUG=1 prints it), 130 interrupted.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from natv2 import __version__
from natv2.cli.commands import load_commands
from natv2.cli.context import CliContext
from natv2.cli.registry import build_parser, merge_common
from natv2.errors import NatError, as_storage_error

DESCRIPTION = """\
natv2: multi-objective neural architecture search, end to end.

  source data -> train-supernet -> search (NAT / NATv2) -> finetune -> export -> report

Every stage reads and writes one run directory (--run-dir). Settings come from a preset
(--preset), a YAML file (--config) and --set KEY=VALUE overrides, in that order."""

EPILOG = """\
examples:
  natv2 presets                                    list the shipped presets
  natv2 datasets                                   which datasets are available here, and where
  natv2 config show --preset cifar10 --set run.seed=3
  natv2 config keys                                every setting with its type and default
  natv2 COMMAND --help                             details of one command"""

EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


def format_error(err: NatError) -> str:
    """One paragraph: the problem, then the fix."""
    text = f"natv2: error: {err.problem}"
    if err.fix:
        text += f"\n  fix: {err.fix}"
    return text


def _debug_requested(argv: Sequence[str]) -> bool:
    if os.environ.get("NATV2_DEBUG", "").strip() not in ("", "0"):
        return True
    return any(a == "--verbose" or re.fullmatch(r"-v+", a) for a in argv)


def _crash_log_path(ctx: CliContext | None) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"natv2-crash-{stamp}-{os.getpid()}.log"
    if ctx is not None and ctx.run_dir is not None:
        return ctx.run_dir.path / "logs" / name
    return Path(tempfile.gettempdir()) / name


def report_crash(err: BaseException, argv: Sequence[str], ctx: CliContext | None, stderr: TextIO) -> None:
    """Internal error: a traceback with -v / NATV2_DEBUG=1, else one line and the log's location."""
    trace = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    summary = f"natv2: internal error: {type(err).__name__}: {err}"
    if _debug_requested(argv):
        print(trace + summary, file=stderr)
        return
    where = ""
    try:
        from natv2.io.atomic import atomic_write_text

        path = _crash_log_path(ctx)
        atomic_write_text(path, f"natv2 {__version__}\ncommand: natv2 {' '.join(argv)}\n\n{trace}")
        where = f"the full traceback is in {path}; "
    except OSError:
        pass
    print(f"{summary}\n  this is a bug in natv2: {where}rerun with -v (or NATV2_DEBUG=1) to print it, "
          "and please report it", file=stderr)


@contextmanager
def _logging(verbosity: int, stream: TextIO) -> Iterator[None]:
    """Route natv2's log records to stderr for the duration of one command."""
    logger = logging.getLogger("natv2")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"))
    old_level = logger.level
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr
    ctx: CliContext | None = None
    try:
        parser = build_parser(load_commands(), description=DESCRIPTION, epilog=EPILOG, version=__version__)
        args = merge_common(parser.parse_args(argv))
        if args._run is None:
            # `natv2` alone asks for help; `natv2 config` without its subcommand is a usage error.
            args._parser.print_help(stderr if args._command else stdout)
            return 2 if args._command else 0
        ctx = CliContext(args, stdout, stderr)
        with _logging(ctx.verbosity, stderr):
            return int(args._run(ctx) or 0)
    except NatError as err:
        print(format_error(err), file=stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("natv2: interrupted", file=stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`natv2 config show | head`): stop quietly.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        except OSError:
            pass
        return EXIT_INTERNAL
    except Exception as err:  # noqa: BLE001 - the last line of defence: never a bare traceback
        storage = as_storage_error(err)  # disk full, read-only, permission: the machine's doing, not a bug
        if storage is not None:
            print(format_error(storage), file=stderr)
            return storage.exit_code
        report_crash(err, argv, ctx, stderr)
        return EXIT_INTERNAL
    finally:
        if ctx is not None and ctx.run_dir is not None:
            ctx.run_dir.close()


if __name__ == "__main__":
    sys.exit(main())
