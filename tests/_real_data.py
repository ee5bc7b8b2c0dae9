"""Where the tests' real CIFAR-10 is: the one place that knows.

Looked for, first match wins:
1. `$NATV2_TEST_DATA/cifar10` when NATV2_TEST_DATA is set (this project's CI passes ../shared/data);
2. where natv2 itself looks: `$NATV2_DATA`, `./data`, the user's cache (what `make test` fills with
   `natv2 datasets --fetch` when CIFAR-10 is in none of them);
3. this project's development layout, `../shared/data` beside the repository.

It is resolved when the module is imported, which conftest does before it moves natv2's cache to
a temporary folder. A test that needs the data fails, never skips, when there is none, and says
how to provide it.

The data may be class folders of image files or the official python batches (a download): tests
that copy image files get them from `cifar10_class_folders()`, which writes a small class-folder
subset from the batches when needed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest

from natv2.data import DataConfig
from natv2.data.discovery import discover
from natv2.data.sources.cifar import Cifar10Source

REPO = Path(__file__).resolve().parents[1]
# the most image files per class any test copies out of the class folders
SUBSET_PER_CLASS = {"train": 50, "test": 20}
HOW_TO_PROVIDE = (
    "the tests need CIFAR-10 and found it nowhere: run `make test` (it downloads it once, checksum-verified), "
    "or `natv2 datasets --fetch --set data.name=cifar10`, or set NATV2_TEST_DATA (or NATV2_DATA) to a folder "
    "holding cifar10/ (class folders train/<class>/*, test/<class>/*, or the official cifar-10-batches-py)"
)


def _locate() -> Path | None:
    given = os.environ.get("NATV2_TEST_DATA")
    if given:
        return Cifar10Source.match(Path(given) / "cifar10")
    found = discover(Cifar10Source)
    if found is None:
        found = Cifar10Source.match(REPO.parent / "shared" / "data" / "cifar10")
    return found


CIFAR10: Path | None = _locate()


def cifar10_root() -> Path:
    """The CIFAR-10 folder natv2 reads (either layout); the calling test fails when there is none."""
    if CIFAR10 is None:
        given = os.environ.get("NATV2_TEST_DATA")
        where = f"NATV2_TEST_DATA={given} holds no cifar10/; " if given else ""
        pytest.fail(where + HOW_TO_PROVIDE, pytrace=False)
    return CIFAR10


def is_class_folders(root: Path) -> bool:
    return (root / "train").is_dir() and (root / "test").is_dir()


@cache
def cifar10_class_folders() -> Path:
    """A CIFAR-10 tree of image files, train/<class>/* and test/<class>/*: the data itself when it is
    laid out so, else a PNG subset of the official batches (SUBSET_PER_CLASS images per class)."""
    root = cifar10_root()
    if is_class_folders(root):
        return root
    out = Path(tempfile.mkdtemp(prefix="natv2-test-cifar10-"))
    atexit.register(shutil.rmtree, out, True)
    raw = Cifar10Source(DataConfig(name="cifar10", root=str(root))).plan(root).decode()
    for split, per_class in SUBSET_PER_CLASS.items():
        data = raw.splits[split]
        for label, name in enumerate(raw.classes):
            folder = out / split / name
            folder.mkdir(parents=True)
            for n, i in enumerate((data.labels == label).nonzero()[0][:per_class]):
                _save_png(data.images[i], folder / f"{n:04d}.png")
    return out


def _save_png(chw, path: Path) -> None:
    from PIL import Image

    Image.fromarray(chw.transpose(1, 2, 0)).save(path)


@cache
def data_home() -> Path:
    """A folder holding `cifar10` (a link to the data), for $NATV2_DATA of the natv2 processes tests start."""
    home = Path(tempfile.mkdtemp(prefix="natv2-test-data-"))
    atexit.register(shutil.rmtree, home, True)
    (home / "cifar10").symlink_to(cifar10_root(), target_is_directory=True)
    return home
