"""The commands `natv2` knows. To add one, write a module that defines `COMMANDS = [Command(...)]`
and add its dotted name to `COMMAND_MODULES` (one line). Keep heavy imports (torch, data) inside
the command's run function so `natv2 --help` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from natv2.cli.registry import Command

COMMAND_MODULES: tuple[str, ...] = (
    "natv2.cli.commands.datasets",
    "natv2.cli.commands.presets",
    "natv2.cli.commands.config",
    "natv2.cli.commands.run",
    "natv2.cli.commands.train_supernet",
    "natv2.cli.commands.search",
    "natv2.cli.commands.finetune",
    "natv2.cli.commands.export",
    "natv2.cli.commands.report",
    "natv2.cli.commands.predict",
    "natv2.cli.commands.latency_table",
)


def load_commands(modules: Sequence[str] = COMMAND_MODULES) -> list[Command]:
    """The `COMMANDS` of every module, in order."""
    commands: list[Command] = []
    for name in modules:
        module = importlib.import_module(name)
        found = getattr(module, "COMMANDS", None)
        if not found:
            raise RuntimeError(f"command module {name} defines no COMMANDS list")
        commands.extend(found)
    return commands
