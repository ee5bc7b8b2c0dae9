"""Where datasets are looked for when no root is given, and the `natv2 datasets` listing.

Search order, first match wins: $NATV2_DATA/<name>, ./data/<name> (relative to the working
directory), <cache>/data/<name> (where downloads go), then places specific to a dataset (e.g.
Debian's /usr/share/datasets/fashion-mnist). Nothing is looked up relative to where natv2 is
installed: a data folder elsewhere is named by $NATV2_DATA or data.root.
Each place is also tried under the dataset's usual folder aliases (cifar-10-batches-py, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from natv2.data.cache import cache_root

if TYPE_CHECKING:
    from natv2.data.config import DataConfig
    from natv2.data.sources.base import DatasetSource


def search_bases(cache_dir: str | None = None) -> list[Path]:
    """Parent folders tried, in order, without duplicates."""
    bases: list[Path] = []
    env = os.environ.get("NATV2_DATA")
    if env:
        bases.append(Path(env).expanduser())
    bases.append(Path.cwd() / "data")
    bases.append(cache_root(cache_dir) / "data")
    unique: list[Path] = []
    for b in bases:
        b = b.resolve() if b.exists() else b
        if b not in unique:
            unique.append(b)
    return unique


def candidate_dirs(source: type[DatasetSource], cache_dir: str | None = None) -> list[Path]:
    names = (source.name, *source.aliases)
    dirs = [base / n for base in search_bases(cache_dir) for n in names]
    dirs += [Path(p) for p in source.system_places]
    return dirs


def discover(source: type[DatasetSource], cache_dir: str | None = None) -> Path | None:
    """The first candidate folder that holds the dataset, or None."""
    for cand in candidate_dirs(source, cache_dir):
        found = source.match(cand)
        if found is not None:
            return found
    return None


def download_dir(source: type[DatasetSource], cache_dir: str | None = None) -> Path:
    """Where a download goes when no root is given: $NATV2_DATA/<name> or <cache>/data/<name>."""
    env = os.environ.get("NATV2_DATA")
    base = Path(env).expanduser() if env else cache_root(cache_dir) / "data"
    return base / source.name


def fetch_dataset(cfg: DataConfig) -> Path:
    """The folder of the config's dataset, downloaded first (checksum-verified) when it is found nowhere.

    What `natv2 datasets --fetch` does, so that data can be put in place before a run (or a test
    suite) instead of in the middle of one. A dataset that cannot be downloaded gets a DataError
    saying where it was looked for and how to provide it.

    Args:
        cfg: The data section: its name, root, download_url and download_md5 are used.

    Returns:
        The folder natv2 will read the dataset from.
    """
    from dataclasses import replace

    from natv2.data.registry import get_source_class

    return get_source_class(cfg.name)(replace(cfg, download=True)).locate()


@dataclass(frozen=True)
class DatasetEntry:
    """One line of `natv2 datasets`."""

    name: str
    found: bool
    location: str
    note: str


def list_datasets(cfg: DataConfig | None = None) -> list[DatasetEntry]:
    """Every registered dataset, whether it is available here, where, and how to get it."""
    from natv2.data.registry import DATASETS, dataset_names

    cache_dir = cfg.cache_dir if cfg is not None else None
    entries = []
    for name in dataset_names():
        src = DATASETS.get(name)
        if not src.needs_files:
            entries.append(DatasetEntry(name, True, src.builtin_location(), src.how_to_get))
            continue
        if cfg is not None and cfg.root and name == cfg.name:  # the folder the config names, and only it
            root = src.match(Path(cfg.root).expanduser())
            note = f"data.root={cfg.root} does not hold {name}; {src.how_to_get}" if root is None else src.how_to_get
        else:
            root, note = discover(src, cache_dir), src.how_to_get
        entries.append(DatasetEntry(name, root is not None, str(root) if root else "", note))
    return entries
