"""User-facing errors: each names the problem and the fix, so the CLI can print one paragraph and exit non-zero."""

from __future__ import annotations

import errno


class NatError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug.

    `fix` says what to do about it; the CLI prints both and exits with `exit_code`.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}" if self.fix else self.problem


class ConfigError(NatError):
    """A configuration key, value or type is wrong."""


class DataError(NatError):
    """A dataset is missing, empty, unreadable or fails its checksum."""


class InvalidSubnetError(NatError, ValueError):
    """A subnet configuration lies outside the search space of a supernet."""


class CheckpointError(NatError):
    """A checkpoint cannot be read or does not fit the model it is loaded into."""


class RunDirError(NatError):
    """A run directory is locked by another process or is inconsistent."""


class StorageError(NatError):
    """The file system refused a read or write: disk full, quota, permission, read-only."""


# errno -> (what happened, the fix). A rerun resumes: every stage keeps what it finished.
_RERUN = "then run the same command again: finished work is kept and the run resumes"
_STORAGE_PROBLEMS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", f"free disk space (or use a --run-dir on another disk), {_RERUN}"),
    errno.EDQUOT: ("the disk quota is exceeded", f"free space within your quota (or use another --run-dir), {_RERUN}"),
    errno.EACCES: ("permission denied", "make the file and its folder writable for you, or choose another folder"),
    errno.EPERM: ("operation not permitted", "make the file and its folder writable for you, or choose another folder"),
    errno.EROFS: ("the file system is read-only", "choose a folder on a writable file system"),
}
# Libraries that wrap the OS error in their own type (safetensors, torch) keep its text.
_STORAGE_TEXT = {"No space left on device": errno.ENOSPC, "os error 28": errno.ENOSPC,
                 "Disk quota exceeded": errno.EDQUOT, "Read-only file system": errno.EROFS, "os error 30": errno.EROFS}


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    return seen


def storage_errno(err: BaseException) -> int | None:
    """The errno of a file-system failure anywhere in `err`'s chain that the user (or the machine) caused."""
    for e in _chain(err):
        if isinstance(e, OSError) and e.errno in _STORAGE_PROBLEMS:
            return e.errno
    for e in _chain(err):
        text = str(e)
        for needle, code in _STORAGE_TEXT.items():
            if needle in text:
                return code
    return None


def as_storage_error(err: BaseException, fix: str | None = None) -> StorageError | None:
    """A StorageError naming the file and the fix when `err` is a file-system refusal, else None."""
    code = storage_errno(err)
    if code is None:
        return None
    what, default_fix = _STORAGE_PROBLEMS[code]
    names = [e.filename for e in _chain(err) if isinstance(e, OSError) and e.filename]
    where = f" while writing or reading '{names[0]}'" if names else ""
    return StorageError(f"{what}{where} ({type(err).__name__}: {err})", fix or default_fix)
