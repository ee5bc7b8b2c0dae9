"""An exclusive, crash-safe lock on a file, so two processes never write one run directory at once.

It uses `fcntl.flock`: the kernel drops the lock when the holding process exits for any reason
(including SIGKILL or a power loss of the process), so a crashed run never leaves a stale lock
behind. The lock file also records who holds it (PID, host, command, start time) so the refusal
can name the holder. The file itself is never deleted (deleting lock files races with openers).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from natv2.errors import RunDirError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class FileLock:
    """`with FileLock(path, what="run directory 'runs/x'"):` - refuses, naming the holder, if taken."""

    def __init__(self, path: str | os.PathLike[str], what: str | None = None) -> None:
        self.path = Path(path)
        self.what = what or f"'{self.path}'"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> dict[str, Any]:
        """What the current holder wrote into the lock file ({} when unknown)."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            return json.loads(text) if text else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "FileLock":
        if self._fd is not None:
            return self
        if fcntl is None:  # pragma: no cover
            raise RunDirError("file locking (fcntl) is not available on this platform",
                              "run natv2 on Linux or macOS")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise RunDirError(f"cannot create the lock file of {self.what} ({self.path}): {err}",
                              "choose a folder you can write to") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise self._busy_error() from None
            raise RunDirError(f"cannot lock {self.what} ({self.path}): {err}",
                              "check that the folder is writable and on a local file system") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:300]}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
        os.fsync(fd)
        self._fd = fd
        return self

    def _busy_error(self) -> RunDirError:
        info = self.holder()
        pid = info.get("pid")
        if pid == os.getpid() and info.get("host") == socket.gethostname():
            return RunDirError(f"{self.what} is already open in this same process",
                               "close the first handle (or use it) instead of opening the run directory twice")
        who = f"process {pid}" if pid else "another process (it is just starting)"
        host = info.get("host")
        if host and host != socket.gethostname():
            who += f" on host {host}"
        since = f", running since {info['since']}" if info.get("since") else ""
        cmd = f" ({info['command']})" if info.get("command") else ""
        stop = f"stop it (kill {pid}), " if pid else ""
        return RunDirError(f"{self.what} is in use by {who}{since}{cmd}",
                           f"wait for that run to finish, {stop}or choose another run directory (--run-dir)")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        # Closing the descriptor drops the flock; this keeps a forgotten lock from outliving its object.
        if getattr(self, "_fd", None) is not None:
            try:
                os.close(self._fd)  # type: ignore[arg-type]
            except OSError:
                pass
