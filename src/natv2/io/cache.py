"""Where natv2 keeps what it can recompute (decoded datasets, NSGA-III reference directions):
one root for every cache: `data.cache_dir`, else $NATV2_CACHE, else $XDG_CACHE_HOME/natv2, else
~/.cache/natv2."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "NATV2_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir` when given, else $NATV2_CACHE, else $XDG_CACHE_HOME/natv2, else ~/.cache/natv2."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "natv2"
