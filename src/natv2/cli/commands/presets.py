"""`natv2 presets`: the configs shipped with natv2."""

from __future__ import annotations

from natv2.cli.context import CliContext
from natv2.cli.registry import Command


def _run(ctx: CliContext) -> int:
    from natv2.config import list_presets
    from natv2.pipeline.config import DEFAULT_PRESET

    presets = list_presets()
    width = max([len(p.name) for p in presets] + [6])
    for p in presets:
        default = " (default)" if p.name == DEFAULT_PRESET else ""
        ctx.echo(f"{p.name:<{width}}  {p.description}{default}")
        if ctx.verbosity > 0:
            ctx.echo(f"{'':<{width}}  {p.location}")
    ctx.echo("\nshow one in full: natv2 config show --preset NAME")
    return 0


COMMANDS = [
    Command(
        "presets",
        "list the presets shipped with natv2 (use one with --preset NAME)",
        run=_run,
        description=("List the presets shipped with natv2. A preset is a complete config; pick one with\n"
                     "--preset NAME and change single settings with --set KEY=VALUE. Your own YAML file\n"
                     "(--config) can start from a preset with a top-level `extends: NAME`."),
        epilog="examples:\n  natv2 presets\n  natv2 presets -v           also show each preset's file",
    )
]
