"""Fetching official dataset files with checksum verification, and extracting archives safely.

Archives are never extracted wholesale: only members with plain relative names are written
(no absolute paths, no '..', no links), so a hostile archive cannot write outside its folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TextIO

from natv2.errors import DataError

log = logging.getLogger("natv2.data")


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_download(tmp: Path, url: str, expected: str) -> None:
    """Refuse a downloaded file whose md5 is not the expected one (the caller removes it)."""
    got = md5_of(tmp)
    if got != expected:
        raise DataError(
            f"the file downloaded from {url} has md5 {got}, expected {expected}: it is damaged, incomplete or "
            "not the file expected (nothing was kept)",
            fix="download again, or point data.download_url at a mirror that serves the official file (a mirror "
            "serving another archive, such as a local copy, needs its checksum as data.download_md5).",
        )


class Progress:
    """A one-line download progress bar on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label, self.total, self.stream = label, total, stream or sys.stderr
        self.done, self._shown = 0, -1
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, n: int) -> None:
        self.done += n
        mb = self.done / 1e6
        if self.total:
            pct = min(100, int(100 * self.done / self.total))
            step = pct if self.tty else pct // 10 * 10
            if step == self._shown:
                return
            self._shown = step
            bar = "#" * (pct // 4)
            text = f"{self.label}: [{bar:<25}] {pct:3d}% {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"{self.label}: {mb:.1f} MB"
        print(("\r" + text) if self.tty else text, end="" if self.tty else "\n", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.stream, flush=True)


def _copy(resp: Any, out: BinaryIO, progress: Progress, chunk: int = 1 << 20) -> None:
    while block := resp.read(chunk):
        out.write(block)
        progress.update(len(block))
    progress.close()


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        if any(folder.iterdir()):
            return
        folder.rmdir()


def fetch(url: str, dest: Path, md5: str | None, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` (via a temp file, renamed only once the checksum matches), with a
    progress bar. An existing `dest` with the right checksum is kept, so a file put there by hand
    (offline machines) is used as it is."""
    created = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]  # innermost first
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and md5 and md5_of(dest) == md5:
        return dest
    log.info("downloading %s -> %s", url, dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
            _copy(resp, out, Progress(f"downloading {dest.name}", int(length) if length else None))
        if md5:
            verify_download(Path(tmp), url, md5)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        checksum = f" (md5 {md5})" if md5 else ""
        raise DataError(
            f"could not download {url}: {exc}",
            fix=f"check the network (or data.download_url), or, on a machine without one, fetch {url}{checksum} "
            f"elsewhere and put it at {dest} (it is checked and unpacked there on the next run), or unpack the "
            "dataset anywhere and set data.root (or $NATV2_DATA) to its folder.",
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if not dest.exists():
            _remove_empty(created)  # a failed download leaves no folder behind that it made
    return dest


def _safe_member(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    return p


def extract(archive: Path, dest: Path) -> None:
    """Extract regular files of a .tar(.gz) or .zip into `dest`, refusing unsafe names."""
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = _safe_member(info.filename)
                if rel is None or info.is_dir():
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, length=1 << 20)
        return
    try:
        with tarfile.open(archive) as tf:
            for member in tf:
                rel = _safe_member(member.name)
                if rel is None or not member.isfile():
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                assert src is not None
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, length=1 << 20)
    except tarfile.TarError as exc:
        raise DataError(f"cannot extract {archive}: {exc}", fix=f"delete {archive} and download it again.") from None
