"""A run directory: everything one run reads and writes, so a later stage needs nothing else.

Its layout (every path and file name) is owned by natv2.io.artifacts; this module owns opening,
locking, the saved config and the append-only event log (one JSON object per line
{ts, stage, event, data}).

Files are written atomically (temp file + rename). A directory is opened for writing by one
process at a time; the lock dies with its process, so a crash never blocks the next attempt.
Re-opening a run with a different config is refused unless only `volatile` settings differ
(threads, progress bars, ...) or `force=True`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from natv2.config import Change, ConfigError, diff, load_config, to_plain, to_yaml, volatile_keys
from natv2.errors import RunDirError
from natv2.io.artifacts import CONFIG_FILE, EVENTS_FILE, LOCK_FILE, RUN_MARKERS, Layout
from natv2.io.atomic import (atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_write_with,
                             clean_stale_temp_files, read_json)
from natv2.io.lock import FileLock

T = TypeVar("T")
# (run, changed keys, --force given) -> why the new config is taken; raises RunDirError to refuse it.
ChangePolicy = Callable[["RunDir", list[Change], bool], str]

_MARKERS = RUN_MARKERS
RUN_STAGE = "run"


# ---------------------------------------------------------------------- events
@dataclass(frozen=True)
class Event:
    ts: str
    stage: str
    event: str
    data: dict[str, Any] = field(default_factory=dict)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    plain = to_plain(obj)
    if plain is not obj:
        return plain
    raise TypeError(f"event data of type {type(obj).__name__} cannot be written as JSON")


class EventLog:
    """The append-only event log (EVENTS_FILE): each event is one line, flushed and fsynced before returning."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, stage: str, event: str, data: dict[str, Any] | None = None) -> Event:
        record = Event(_now(), stage, event, dict(data or {}))
        line = json.dumps({"ts": record.ts, "stage": stage, "event": event, "data": record.data},
                          default=_json_default, separators=(",", ":"))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return record

    def repair(self) -> int:
        """Cut a torn last line (a write interrupted by a crash); returns the bytes dropped.

        Only call it while holding the run directory's lock: a live writer's half line is not torn.
        """
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with open(self.path, "r+b") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return 0
            end, chunk = size, 4096
            keep = 0
            while end > 0:
                start = max(0, end - chunk)
                fh.seek(start)
                block = fh.read(end - start)
                idx = block.rfind(b"\n")
                if idx >= 0:
                    keep = start + idx + 1
                    break
                end = start
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        return size - keep

    def read(self, stage: str | None = None, event: str | None = None) -> list[Event]:
        """All complete events (optionally filtered). A torn last line is skipped, not an error."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8", errors="replace").split("\n")
        complete, _torn_tail = lines[:-1], lines[-1]
        out = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                ev = Event(str(obj["ts"]), str(obj["stage"]), str(obj["event"]), dict(obj.get("data") or {}))
            except (ValueError, KeyError, TypeError):
                raise RunDirError(f"{self.path} line {number} is not a valid event: {line[:120]!r}",
                                  "the log was edited or damaged; delete or fix that line") from None
            if (stage is None or ev.stage == stage) and (event is None or ev.event == event):
                out.append(ev)
        return out


# ---------------------------------------------------------------------- run directory
def default_run_dir(label: str = "run", root: str | os.PathLike[str] = "runs") -> Path:
    """runs/<label>-<YYYYmmdd-HHMMSS>, with a numeric suffix if that already exists."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{label}-{stamp}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def describe_changes(changes: list[Change], limit: int = 6) -> str:
    shown = [f"{c.key}: {json.dumps(c.old, default=str)} -> {json.dumps(c.new, default=str)}" for c in changes[:limit]]
    more = f" (and {len(changes) - limit} more)" if len(changes) > limit else ""
    return "; ".join(shown) + more


class RunDir:
    """One run's folder. Use `RunDir.open(...)` (locks, checks the config) or `RunDir.read(...)`."""

    def __init__(self, path: str | os.PathLike[str], *, writable: bool, lock: FileLock | None = None) -> None:
        self.path = Path(path)
        self.writable = writable
        self._lock = lock
        self.events = EventLog(self.path / EVENTS_FILE)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str], config: Any = None, *, force: bool = False,
             change_policy: ChangePolicy | None = None) -> "RunDir":
        """Create or resume the run directory `path` for writing, holding its lock until `close()`.

        With `config`: a new directory saves it; an existing one must hold an equal config (up to
        volatile keys). Otherwise `change_policy(run, changes, force)` decides (returns why the new
        config is taken, or raises RunDirError before anything is written); without a policy the
        change is refused unless `force`. A taken change replaces the saved config and is logged.
        """
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise RunDirError(f"run directory '{root}' is a file, not a folder", "choose another --run-dir")
        if root.is_dir() and any(root.iterdir()) and not any((root / m).exists() for m in _MARKERS):
            raise RunDirError(f"'{root}' is not empty and is not a natv2 run directory",
                              "choose a new or empty folder for --run-dir (natv2 will not write among other files)")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(f"cannot create run directory '{root}': {err}", "choose a writable --run-dir") from None
        resumed = (root / CONFIG_FILE).exists() or (root / EVENTS_FILE).exists()
        lock = FileLock(root / LOCK_FILE, what=f"run directory '{root}'").acquire()
        run = cls(root, writable=True, lock=lock)
        try:
            dropped = run.events.repair()
            if dropped:
                run.log_event(RUN_STAGE, "events_repaired", dropped_bytes=dropped)
            stale = clean_stale_temp_files(root)
            if stale:
                run.log_event(RUN_STAGE, "temp_files_removed", files=[str(p.relative_to(root)) for p in stale])
            if config is not None:
                run._reconcile_config(config, force, change_policy)
            run.log_event(RUN_STAGE, "resumed" if resumed else "created", pid=os.getpid())
        except BaseException:
            run.close()
            raise
        return run

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "RunDir":
        """Open an existing run directory read-only (no lock; e.g. to report on a live run)."""
        root = Path(path)
        if not root.is_dir() or not any((root / m).exists() for m in _MARKERS):
            raise RunDirError(f"'{root}' is not a natv2 run directory", f"pass the folder a run wrote (it holds {CONFIG_FILE})")
        return cls(root, writable=False)

    def _reconcile_config(self, config: Any, force: bool, change_policy: ChangePolicy | None) -> None:
        if not self.config_path.exists():
            self.save_config(config)
            return
        saved = self.load_config(type(config))
        changes = diff(saved, config, ignore=volatile_keys(type(config)))
        reason = "--force"
        if changes and change_policy is not None:
            reason = change_policy(self, changes, force)
        elif changes and not force:
            raise RunDirError(
                f"run directory '{self.path}' was started with a different config ({describe_changes(changes)})",
                f"use a new --run-dir, or resume with the saved settings (--config {self.config_path}), "
                "or pass --force to continue with the new ones")
        if changes:
            self.log_event(RUN_STAGE, "config_changed", reason=reason,
                           changes=[{"key": c.key, "old": c.old, "new": c.new} for c in changes])
        if diff(saved, config):
            self.save_config(config)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.writable = False

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ layout
    @property
    def config_path(self) -> Path:
        return self.layout.config

    @property
    def events_path(self) -> Path:
        return self.layout.events

    @property
    def layout(self) -> Layout:
        """Every path of this run directory (natv2.io.artifacts owns the names)."""
        return Layout(self.path)

    @property
    def models_dir(self) -> Path:
        return self.layout.models

    def file(self, *parts: str | os.PathLike[str]) -> Path:
        """A path inside the run directory; refuses absolute paths and `..` escapes."""
        rel = Path(*parts)
        target = (self.path / rel).resolve()
        if rel.is_absolute() or not target.is_relative_to(self.path.resolve()):
            raise ValueError(f"{rel} is not inside the run directory {self.path}")
        return self.path / rel

    # ------------------------------------------------------------------ writing
    def _check_writable(self) -> None:
        if not self.writable:
            raise RunDirError(f"run directory '{self.path}' is open read-only (or was closed)",
                              "open it with RunDir.open(...) to write")

    def write_bytes(self, rel: str | os.PathLike[str], data: bytes) -> Path:
        self._check_writable()
        return atomic_write_bytes(self.file(rel), data)

    def write_text(self, rel: str | os.PathLike[str], text: str) -> Path:
        self._check_writable()
        return atomic_write_text(self.file(rel), text)

    def write_json(self, rel: str | os.PathLike[str], obj: Any) -> Path:
        self._check_writable()
        return atomic_write_json(self.file(rel), obj)

    def write_with(self, rel: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
        """Atomic write through a library that wants a file name (safetensors, onnx, torch.jit)."""
        self._check_writable()
        return atomic_write_with(self.file(rel), write)

    def read_json(self, rel: str | os.PathLike[str]) -> Any:
        return read_json(self.file(rel))

    def exists(self, rel: str | os.PathLike[str]) -> bool:
        return self.file(rel).exists()

    # ------------------------------------------------------------------ config
    def save_config(self, config: Any) -> Path:
        header = (f"natv2 resolved config of run '{self.path.name}'.\n"
                  f"Reproduce the run from this file alone: natv2 run --config {CONFIG_FILE} --run-dir NEW_DIR")
        return self.write_text(CONFIG_FILE, to_yaml(config, header=header))

    def load_config(self, cls: type[T]) -> T:
        if not self.config_path.exists():
            raise RunDirError(f"run directory '{self.path}' has no {CONFIG_FILE}",
                              "start the run with a config (natv2 run --run-dir ...) before later stages")
        try:
            return load_config(cls, self.config_path)
        except ConfigError as err:
            raise RunDirError(f"the saved config of run directory '{self.path}' does not load: {err.problem}",
                              f"{err.fix}; or start a new run directory if it came from another natv2 version") from None

    # ------------------------------------------------------------------ events
    def log_event(self, stage: str, event: str, **data: Any) -> Event:
        self._check_writable()
        return self.events.append(stage, event, data)

    def read_events(self, stage: str | None = None, event: str | None = None) -> list[Event]:
        return self.events.read(stage, event)

    def mark_done(self, stage: str, **data: Any) -> Event:
        """Record that `stage` finished, so a resumed `natv2 run` skips it."""
        return self.log_event(stage, "done", **data)

    def is_done(self, stage: str) -> bool:
        return bool(self.events.read(stage, "done"))

