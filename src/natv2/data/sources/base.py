"""The interface every dataset source implements, and the root-resolution logic they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from natv2.data.config import DataConfig
from natv2.data.raw import RawDataset
from natv2.errors import DataError


@dataclass
class SourcePlan:
    """What a source found at its root: the cache-key material that identifies the content,
    and how to decode it (called only on a cache miss)."""

    key_material: Any
    decode: Callable[[], RawDataset]
    location: str


class DatasetSource(ABC):
    """A dataset format. Subclasses set the class attributes and implement `match` and `plan`."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other folder names it is commonly stored under
    system_places: ClassVar[tuple[str, ...]] = ()  # absolute folders tried after the usual ones
    layout: ClassVar[str] = ""  # the expected folder layout, for error messages
    how_to_get: ClassVar[str] = ""
    needs_files: ClassVar[bool] = True
    can_download: ClassVar[bool] = False

    def __init__(self, cfg: DataConfig) -> None:
        self.cfg = cfg

    @classmethod
    @abstractmethod
    def match(cls, path: Path) -> Path | None:
        """The dataset folder if `path` holds this dataset (itself or a known subfolder)."""

    @abstractmethod
    def plan(self, root: Path) -> SourcePlan:
        """Scan `root` (cheaply) and return the cache key material and the decoder."""

    def download(self, dest: Path) -> None:
        raise DataError(
            f"dataset {self.name!r} cannot be downloaded automatically",
            fix=self.how_to_get or "set data.root to the dataset's folder.",
        )

    @classmethod
    def builtin_location(cls) -> str:
        return ""

    def locate(self) -> Path:
        """The dataset folder: data.root if given, else discovery, else a download when
        data.download is set; otherwise a DataError that says where it looked and what to do."""
        from natv2.data.discovery import candidate_dirs, discover, download_dir

        cfg = self.cfg
        if cfg.root:
            given = Path(cfg.root).expanduser()
            if not given.exists() or (given.is_dir() and not any(given.iterdir())):
                if cfg.download and self.can_download:
                    self.download(given)
                    found = self.match(given)
                    if found is not None:
                        return found
                state = "does not exist" if not given.exists() else "is empty"
                raise DataError(
                    f"data folder {given} {state} (dataset {self.name!r})",
                    fix=self._fix_hint(),
                )
            found = self.match(given)
            if found is None:
                raise DataError(
                    f"{given} does not hold the {self.name!r} dataset; expected {self.layout}",
                    fix=self._fix_hint(),
                )
            return found
        found = discover(type(self), cfg.cache_dir)
        if found is not None:
            return found
        if cfg.download and self.can_download:
            dest = download_dir(type(self), cfg.cache_dir)
            self.download(dest)
            found = self.match(dest)
            if found is not None:
                return found
            raise DataError(f"the download into {dest} did not produce {self.layout}", fix=self._fix_hint())
        looked = ", ".join(str(p) for p in candidate_dirs(type(self), cfg.cache_dir))
        raise DataError(f"dataset {self.name!r} not found; looked in: {looked}", fix=self._fix_hint())

    def _fix_hint(self) -> str:
        parts = [f"set data.root to a folder laid out as {self.layout}" if self.layout else "set data.root"]
        if self.can_download:
            parts.append("or set data.download=true to fetch it (checksum-verified)")
        if self.how_to_get:
            parts.append(f"({self.how_to_get})")
        return " ".join(parts)
