"""`natv2 config show|keys`: the resolved settings, and every setting there is."""

from __future__ import annotations

import argparse
import json

from natv2.cli.context import CliContext, add_source_option
from natv2.cli.registry import Command


def _show(ctx: CliContext) -> int:
    from natv2.config import to_yaml

    cfg = ctx.config()
    header = "natv2 config, resolved from: " + ", ".join(ctx.config_sources())
    ctx.stdout.write(to_yaml(cfg, header=header))
    return 0


def _configure_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("section", nargs="?", help="only this section (e.g. data)")


def _keys(ctx: CliContext) -> int:
    from natv2.config import schema_keys
    from natv2.config.schema import is_required
    from natv2.pipeline.config import RunConfig

    keys = schema_keys(RunConfig)
    section = ctx.args.section
    if section:
        keys = [k for k in keys if k.key == section or k.key.startswith(section + ".")]
        if not keys:
            from natv2.errors import ConfigError

            sections = sorted({k.key.split(".")[0] for k in schema_keys(RunConfig)})
            raise ConfigError(f"no config section '{section}'", f"sections: {', '.join(sections)}")
    for k in keys:
        default = "required" if is_required(k) else f"default {json.dumps(k.default)}"
        ctx.echo(f"{k.key}  ({k.type}; {default}){'  [may change on resume]' if k.volatile else ''}")
        if k.help:
            ctx.echo(f"    {k.help}")
    return 0


COMMANDS = [
    Command(
        "config",
        "show the resolved config, or list every setting",
        description="Inspect configs without running anything.",
        subcommands=(
            Command(
                "show",
                "print the resolved config (preset + --config + --set) as YAML",
                run=_show,
                configure=add_source_option,
                description=("Print the config a run would use, after the preset, the --config file and the\n"
                             "--set overrides are applied and validated. The output is a complete config file:\n"
                             "save it and pass it back with --config to reproduce the settings."),
                epilog=("examples:\n  natv2 config show --preset quickstart --set run.seed=3\n"
                        "  natv2 config show --preset cifar10 > my.yaml && natv2 config show --config my.yaml"),
            ),
            Command(
                "keys",
                "list every setting with its type, default and meaning",
                run=_keys,
                configure=_configure_keys,
                description="List every config key (dotted, as used by --set) with its type, default and help.",
                epilog="examples:\n  natv2 config keys\n  natv2 config keys data",
            ),
        ),
    )
]
