"""Decoding image files with Pillow into one uint8 array, in a small process pool.

Runs once per dataset (the result goes to the cache), so clarity beats speed here; but 60,000
JPEGs take ~15 s on one core, hence the pool. Workers only touch Pillow and numpy.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from natv2.errors import DataError

log = logging.getLogger("natv2.data")

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
# Below this many files, a pool costs more than it saves.
_MIN_FILES_FOR_POOL = 2000
_CHUNK = 500


def is_image_file(name: str) -> bool:
    base, dot, ext = name.rpartition(".")
    return bool(dot and base) and not name.startswith(".") and "." + ext.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike) -> list[str]:
    """All image files under `folder` (recursively, hidden entries skipped), sorted, as
    strings (pathlib costs seconds on 60,000 files; os.scandir does not)."""
    found: list[str] = []
    stack = [os.fspath(folder)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    stack.append(entry.path)
                elif is_image_file(entry.name):
                    found.append(entry.path)
    found.sort()
    return found


def file_signature(paths: Sequence[str], base: str | os.PathLike) -> list[list]:
    """(relative path, size, mtime_ns) per file: a cheap proxy for the files' content."""
    prefix = os.fspath(base).rstrip(os.sep) + os.sep
    sig = []
    for p in paths:
        p = os.fspath(p)
        try:
            st = os.stat(p)
        except OSError as exc:
            raise DataError(f"cannot read {p}: {exc.strerror}", fix="restore the file or remove it from the listing.") from None
        rel = p[len(prefix):] if p.startswith(prefix) else os.path.relpath(p, base)
        sig.append([rel.replace(os.sep, "/"), st.st_size, st.st_mtime_ns])
    return sig


def to_rgb_array(im) -> np.ndarray:
    """Any Pillow image -> H x W x 3 uint8. Alpha is composited onto black (a fixed, documented
    choice: what lies under transparent pixels is arbitrary); 16-bit greyscale is scaled down."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        g = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        black = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(black, im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def _decode_one(path: str, size: tuple[int, int] | None) -> np.ndarray:
    """Decode one file to 3 x H x W; resize (bilinear, antialiased) when `size` (h, w) differs."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()  # forces a full decode: truncated files fail here, not later
        arr = to_rgb_array(im)
    if size is not None and arr.shape[:2] != size:
        arr = np.asarray(Image.fromarray(arr).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def decode_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as 3 x H x W uint8 RGB, decoded as the datasets are; a DataError names a bad file."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise DataError(f"image file {p} does not exist", fix="check the path.")
    try:
        return _decode_one(p, None)
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
        raise DataError(f"cannot read image {p} ({type(exc).__name__}: {exc})",
                        fix="pass an image file Pillow can read (PNG, JPEG, BMP, ...).") from None


def _decode_chunk(args: tuple[list[str], tuple[int, int]]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    paths, size = args
    out = np.zeros((len(paths), 3, size[0], size[1]), dtype=np.uint8)
    bad: list[tuple[int, str]] = []
    for i, p in enumerate(paths):
        try:
            out[i] = _decode_one(p, size)
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
            bad.append((i, f"{type(exc).__name__}: {exc}"))
    return out, bad


def _probe_chunk(paths: list[str]) -> list[tuple[int, int] | None]:
    from PIL import Image

    sizes: list[tuple[int, int] | None] = []
    for p in paths:
        try:
            with Image.open(p) as im:
                sizes.append((im.height, im.width))
        except Exception:
            sizes.append(None)  # reported by the decode pass
    return sizes


def _pool_context() -> mp.context.BaseContext:
    # fork reuses the parent's imports (workers start in ms); the children run only Pillow/numpy,
    # never torch, so forking a process that has torch threads is safe here. Elsewhere: spawn.
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _chunks(items: list, n: int) -> list[list]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _run(fn, jobs: list, workers: int) -> list:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    with _pool_context().Pool(min(workers, len(jobs))) as pool:
        return list(pool.imap(fn, jobs))


def most_common_size(paths: Sequence[str | os.PathLike], workers: int) -> tuple[int, int]:
    """The most common (h, w) among the files, read from headers only (ties: the largest)."""
    strs = [str(p) for p in paths]
    w = workers if len(strs) >= _MIN_FILES_FOR_POOL else 1
    sizes = [s for part in _run(_probe_chunk, _chunks(strs, _CHUNK * 4), w) for s in part if s is not None]
    if not sizes:
        raise DataError(
            f"none of the {len(strs)} image files could be opened (first: {strs[0]})",
            fix="check that the files are images Pillow can read.",
        )
    counts = Counter(sizes)
    return max(counts, key=lambda s: (counts[s], s[0] * s[1], s))


@dataclass
class DecodedFiles:
    """Images of the files that decoded (in input order), which input indices those are, and
    the files that failed as (path, reason)."""

    images: np.ndarray
    kept: np.ndarray
    bad: list[tuple[str, str]]


def decode_files(
    paths: Sequence[str | os.PathLike], size: tuple[int, int], *, workers: int = 2, skip_bad: bool = False
) -> DecodedFiles:
    """Decode `paths` into an N x 3 x h x w uint8 array. A file that cannot be decoded stops
    with a DataError naming it, unless `skip_bad`, which drops it and reports it in `bad`."""
    strs = [str(p) for p in paths]
    w = workers if len(strs) >= _MIN_FILES_FOR_POOL else 1
    if w > 1:
        log.info("decoding %d image files with %d processes", len(strs), w)
    out = np.empty((len(strs), 3, size[0], size[1]), dtype=np.uint8)
    bad_idx: list[int] = []
    bad: list[tuple[str, str]] = []
    start = 0
    for arr, chunk_bad in _run(_decode_chunk, [(c, size) for c in _chunks(strs, _CHUNK)], w):
        out[start : start + len(arr)] = arr
        for i, reason in chunk_bad:
            bad_idx.append(start + i)
            bad.append((strs[start + i], reason))
        start += len(arr)
    if bad and not skip_bad:
        listed = "; ".join(f"{p} ({r})" for p, r in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise DataError(
            f"{len(bad)} image file(s) cannot be read: {listed}{more}",
            fix="replace or delete the file(s), or set data.skip_bad_images=true to skip and count them.",
        )
    kept = np.setdiff1d(np.arange(len(strs)), np.asarray(bad_idx, dtype=np.int64))
    images = out if not bad else out[kept]
    return DecodedFiles(images=images, kept=kept, bad=bad)
