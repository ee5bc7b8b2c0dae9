"""`natv2 datasets`: the datasets natv2 knows, whether each is available here and where."""

from __future__ import annotations

import argparse
import json

from natv2.cli.context import CliContext
from natv2.cli.registry import Command
from natv2.config import to_plain


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.add_argument("--fetch", action="store_true",
                        help="make sure the config's dataset (data.name) is here: download it, checksum-verified, "
                             "when it is found nowhere, then print its folder")


def _list(ctx: CliContext) -> list:
    from natv2.data import list_datasets

    return list(list_datasets(ctx.config().data))


def _fetch(ctx: CliContext) -> int:
    from natv2.data import fetch_dataset

    data = ctx.config().data
    folder = fetch_dataset(data)
    ctx.echo(json.dumps({"name": data.name, "location": str(folder)}) if ctx.args.json else f"{data.name}: {folder}")
    return 0


def _run(ctx: CliContext) -> int:
    if ctx.args.fetch:
        return _fetch(ctx)
    entries = _list(ctx)
    if ctx.args.json:
        ctx.echo(json.dumps([to_plain(e) for e in entries], indent=2))
        return 0
    selected = ctx.config().data.name
    width = max([len(e.name) for e in entries] + [7])
    ctx.echo(f"  {'dataset':<{width}}  {'status':<7}  location")
    for e in entries:
        mark = "*" if e.name == selected else " "
        where = e.location if e.found else (f"not found; {e.note}" if e.note else "not found")
        ctx.echo(f"{mark} {e.name:<{width}}  {'found' if e.found else 'missing':<7}  {where}")
    ctx.echo(f"\n* the dataset the current config uses (data.name = {selected}); set another with --set data.name=NAME")
    return 0


COMMANDS = [
    Command(
        "datasets",
        "list the datasets natv2 knows, whether each is available here, and where it was found",
        run=_run,
        configure=_configure,
        description=("List every dataset natv2 can read, whether it was found on this machine and where.\n"
                     "Folders are searched in: $NATV2_DATA/<name>, ./data/<name>, the cache\n"
                     "(data.cache_dir, $NATV2_CACHE or ~/.cache/natv2) and system places; set data.root\n"
                     "to use a folder of your own."),
        epilog=("example:\n  natv2 datasets\n  natv2 datasets --json\n"
                "  natv2 datasets --fetch --set data.name=cifar10"),
    )
]
