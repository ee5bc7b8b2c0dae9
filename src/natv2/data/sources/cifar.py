"""CIFAR-10 and CIFAR-100: the official python batch files (read without trusting pickle, see
natv2.data.safe_pickle), a checksum-verified download of them, or a class-per-folder tree
(train/<class>/*.jpg, test/<class>/*.jpg)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from natv2.data.download import extract, fetch
from natv2.data.images import file_signature
from natv2.data.raw import RawDataset, RawSplit
from natv2.data.registry import register
from natv2.data.safe_pickle import load_plain
from natv2.data.sources.base import DatasetSource, SourcePlan
from natv2.data.sources.folders import FileListing, decode_listing, scan_class_tree
from natv2.data.sources.imagefolder import has_class_tree
from natv2.errors import DataError


class CifarSource(DatasetSource):
    """Common code of the two CIFAR sets; subclasses give file names, keys and checksums."""

    n_classes: ClassVar[int]
    batch_folder: ClassVar[str]
    train_files: ClassVar[tuple[str, ...]]
    test_files: ClassVar[tuple[str, ...]]
    meta_file: ClassVar[str]
    label_key: ClassVar[bytes]
    names_key: ClassVar[bytes]
    archive_url: ClassVar[str]
    archive_md5: ClassVar[str]
    can_download = True

    @classmethod
    def _batch_dir(cls, path: Path) -> Path | None:
        for cand in (path, path / cls.batch_folder):
            if (cand / cls.train_files[0]).is_file():
                return cand
        return None

    @classmethod
    def match(cls, path: Path) -> Path | None:
        if not path.is_dir():
            return None
        found = cls._batch_dir(path)
        if found is not None:
            return found
        return path if has_class_tree(path) and (path / "test").is_dir() else None

    def plan(self, root: Path) -> SourcePlan:
        if (root / self.train_files[0]).is_file():
            return self._plan_batches(root)
        return self._plan_folders(root)

    # -- official python batches ---------------------------------------------------------
    def _plan_batches(self, root: Path) -> SourcePlan:
        names = (*self.train_files, *self.test_files, self.meta_file)
        missing = [n for n in names if not (root / n).is_file()]
        if missing:
            raise DataError(
                f"{root} lacks the CIFAR file(s) {', '.join(missing)}",
                fix="extract the complete official archive there, or set data.download=true.",
            )
        sig = file_signature([root / n for n in names], root)
        return SourcePlan(
            key_material={"kind": f"{self.name}-batches", "files": sig},
            decode=lambda: self._decode_batches(root),
            location=str(root),
        )

    def _read(self, path: Path) -> dict:
        obj = load_plain(path.read_bytes(), str(path))
        if not isinstance(obj, dict):
            raise DataError(f"{path} is not a CIFAR batch (no dict inside)", fix="use the official files.")
        return obj

    def _read_split(self, root: Path, files: tuple[str, ...]) -> RawSplit:
        images, labels = [], []
        for name in files:
            path = root / name
            batch = self._read(path)
            data, lab = batch.get(b"data"), batch.get(self.label_key)
            if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                raise DataError(f"{path}: 'data' is not a uint8 N x 3072 array", fix="use the official files.")
            if not isinstance(lab, list) or len(lab) != len(data) or not all(isinstance(v, int) for v in lab):
                raise DataError(f"{path}: labels missing or not {len(data)} integers", fix="use the official files.")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(lab, dtype=np.int64))
        return RawSplit(np.concatenate(images), np.concatenate(labels))

    def _decode_batches(self, root: Path) -> RawDataset:
        meta = self._read(root / self.meta_file)
        names = meta.get(self.names_key)
        if not isinstance(names, list) or len(names) != self.n_classes:
            raise DataError(f"{root / self.meta_file}: no list of {self.n_classes} class names", fix="use the official files.")
        classes = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
        splits = {"train": self._read_split(root, self.train_files), "test": self._read_split(root, self.test_files)}
        return RawDataset(splits=splits, classes=classes, description=f"{self.name} (official python batches at {root})")

    # -- class-per-folder -----------------------------------------------------------------
    def _plan_folders(self, root: Path) -> SourcePlan:
        listing = FileListing(root=root, classes=[])
        scan_class_tree(listing, "train", root / "train", define_classes=True)
        scan_class_tree(listing, "test", root / "test", define_classes=False)
        if len(listing.classes) != self.n_classes:
            raise DataError(
                f"{root / 'train'} has {len(listing.classes)} class folders; {self.name} has {self.n_classes}",
                fix=f"point data.root at a complete {self.name} tree, or use data.name=imagefolder for other data.",
            )
        desc = f"{self.name} (class-per-folder images at {root})"
        return SourcePlan(
            key_material=listing.key_material(f"{self.name}-folders", (32, 32)),
            decode=lambda: decode_listing(listing, (32, 32), self.cfg, desc),
            location=str(root),
        )

    # -- download ---------------------------------------------------------------------------
    def download(self, dest: Path) -> None:
        url = self.cfg.download_url or self.archive_url
        archive = fetch(url, dest / Path(self.archive_url).name, self.cfg.download_md5 or self.archive_md5)
        extract(archive, dest)
        archive.unlink()


@register
class Cifar10Source(CifarSource):
    name = "cifar10"
    aliases = ("cifar-10", "CIFAR10", "cifar-10-batches-py")
    n_classes = 10
    batch_folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    label_key = b"labels"
    names_key = b"label_names"
    archive_url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    archive_md5 = "c58f30108f718f92721af3b95e74349a"
    layout = "the official cifar-10-batches-py files, or train/<class>/*.png|jpg and test/<class>/..."
    how_to_get = "https://www.cs.toronto.edu/~kriz/cifar.html (python version), or data.download=true"


@register
class Cifar100Source(CifarSource):
    name = "cifar100"
    aliases = ("cifar-100", "CIFAR100", "cifar-100-python")
    n_classes = 100
    batch_folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"
    label_key = b"fine_labels"
    names_key = b"fine_label_names"
    archive_url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    archive_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    layout = "the official cifar-100-python files, or train/<class>/*.png|jpg and test/<class>/..."
    how_to_get = "https://www.cs.toronto.edu/~kriz/cifar.html (python version), or data.download=true"
