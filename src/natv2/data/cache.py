"""The decode-once cache: uint8 arrays as .npy files plus a JSON manifest, one folder per
(dataset, source-content key), published by an atomic folder rename.

The key hashes what the source says identifies its content (file names, sizes and modification
times; or the bytes of small sources) and the decoder version, so editing, adding or removing
a file re-decodes, and moving the whole tree (same relative names) does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from natv2.data.raw import RawDataset, RawSplit
from natv2.io import atomic_write_json, read_json
from natv2.io.cache import cache_root  # noqa: F401 - re-exported: the data cache's root

# Bump when decoding changes in a way that alters the arrays (old entries are then ignored).
CACHE_FORMAT = 1
MANIFEST = "manifest.json"
STATS = "stats.json"


def content_key(material: Any) -> str:
    """A hex digest of JSON-able key material (canonical JSON, sorted keys)."""
    blob = json.dumps({"format": CACHE_FORMAT, "source": material}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class DecodeCache:
    """Reads and writes decoded datasets under `<root>/datasets/<name>-<key[:20]>/`."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root) / "datasets"

    def entry_dir(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key[:20]}"

    def load(self, name: str, key: str) -> RawDataset | None:
        """The cached dataset, or None when absent or unreadable (a stale/partial entry is
        simply decoded again)."""
        folder = self.entry_dir(name, key)
        try:
            meta = read_json(folder / MANIFEST)
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                return None
            splits = {
                s: RawSplit(np.load(folder / f"{s}_images.npy"), np.load(folder / f"{s}_labels.npy"))
                for s in meta["splits"]
            }
            return RawDataset(
                splits=splits, classes=list(meta["classes"]), description=meta["description"],
                skipped=list(meta.get("skipped", [])),
            )
        except FileNotFoundError:
            if folder.exists() and not (folder / MANIFEST).exists():
                shutil.rmtree(folder, ignore_errors=True)  # entries are published whole: this one was damaged
            return None
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            shutil.rmtree(folder, ignore_errors=True)  # damaged: drop it so it is rebuilt
            return None

    @staticmethod
    def _manifest_ok(folder: Path, key: str) -> bool:
        try:
            meta = read_json(folder / MANIFEST)
        except (OSError, ValueError):
            return False
        return meta.get("format") == CACHE_FORMAT and meta.get("key") == key

    def save(self, name: str, key: str, raw: RawDataset) -> Path:
        """Write the entry into a temp folder, then rename it into place. If another process
        published the same entry meanwhile, keep theirs (identical content)."""
        final = self.entry_dir(name, key)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.root))
        try:
            for s, split in raw.splits.items():
                for kind, arr in (("images", split.images), ("labels", split.labels)):
                    path = tmp / f"{s}_{kind}.npy"
                    with open(path, "wb") as fh:
                        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
                        fh.flush()
                        os.fsync(fh.fileno())
            manifest = {
                "format": CACHE_FORMAT, "key": key, "name": name, "splits": list(raw.splits),
                "sizes": {s: len(v) for s, v in raw.splits.items()}, "classes": raw.classes,
                "description": raw.description, "skipped": raw.skipped,
            }
            with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            if final.exists() and self._manifest_ok(final, key):  # published by another process meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            shutil.rmtree(final, ignore_errors=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / MANIFEST).exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # lost a benign race
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    # Channel statistics of a training subset (tag: which subset), kept beside the arrays so a
    # cached load does not re-scan 150 MB. Concurrent writers may drop each other's entries;
    # a dropped entry is only recomputed.
    @staticmethod
    def load_stats(folder: Path, tag: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        try:
            entry = read_json(folder / STATS).get(tag)
            return (tuple(entry["mean"]), tuple(entry["std"])) if entry else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def save_stats(folder: Path, tag: str, stats: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
        if not (folder / MANIFEST).is_file():
            return
        try:
            table = read_json(folder / STATS)
            table = table if isinstance(table, dict) else {}
        except (OSError, ValueError):
            table = {}
        table[tag] = {"mean": list(stats[0]), "std": list(stats[1])}
        try:
            atomic_write_json(folder / STATS, table)
        except OSError:
            pass  # a read-only cache still works, it just recomputes
