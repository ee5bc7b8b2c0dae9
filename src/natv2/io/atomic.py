"""Atomic writes (temp file in the same folder, fsync, rename) so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Callable

# mkstemp's names: ".<target name>.<random>.tmp" beside the target (clean_stale_temp_files finds them).
TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process's umask (read without changing it for longer than two system calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call `write(tmp_path)` then rename the temp file over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    try:
        # mkstemp makes the file 0600; the finished file gets what open() would give it: 0666 & ~umask.
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        write(tmp)
        # a library writer may have replaced the temp file with its own (safetensors creates it 0600)
        os.chmod(tmp, 0o666 & ~current_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file and a rename, so a reader never sees half a file; mode per
    umask."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return _atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path`, atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write `obj` as JSON to `path`, atomically (see `atomic_write_bytes`)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def atomic_write_with(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Atomic write for libraries that want a file name (safetensors, torch.jit, onnx)."""
    return _atomic_write(path, write)


def atomic_link(source: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Make `path` a hard link to `source` (atomically replacing `path`): two names, one copy on disk.
    False, with nothing changed, where the file system cannot (the caller then writes a copy)."""
    target = Path(path)
    tmp = target.parent / f"{TMP_PREFIX}{target.name}.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def clean_stale_temp_files(root: str | os.PathLike) -> list[Path]:
    """Delete the temp files of atomic writes under `root` that a killed process left behind.

    Only call it while holding the lock of `root` (no live writer then). Returns what was removed.
    """
    removed = []
    for path in Path(root).rglob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        if path.is_file() and not path.is_symlink():
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed


def read_json(path: str | os.PathLike) -> Any:
    """The parsed JSON document at `path`."""
    with open(path, "r", encoding="utf-8") as fh:
        return json.load(fh)
