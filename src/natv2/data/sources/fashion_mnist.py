"""Fashion-MNIST from its four IDX files (gzipped or not), e.g. where Debian's package
dataset-fashion-mnist installs them, or downloaded with checksum verification."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from natv2.data.download import fetch
from natv2.data.images import file_signature
from natv2.data.raw import RawDataset, RawSplit
from natv2.data.registry import register
from natv2.data.sources.base import DatasetSource, SourcePlan
from natv2.errors import DataError

# IDX type code 0x08 = unsigned byte; the low byte of the magic is the number of dimensions.
_UBYTE = 0x08

FILES = {
    "train_images": ("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310"),
}
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (gzip detected from the magic bytes)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} is a damaged gzip file ({exc})", fix="download it again.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE:
        raise DataError(f"{path} is not an IDX file of unsigned bytes", fix="use the official Fashion-MNIST files.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is truncated or padded: {len(raw) - header} bytes of data for shape {dims}",
            fix="download the file again.",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()  # writable


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


@register
class FashionMnistSource(DatasetSource):
    """28 x 28 greyscale, 10 classes, 60,000 train + 10,000 test (stored with 1 channel)."""

    name = "fashion-mnist"
    aliases = ("fashion_mnist", "FashionMNIST", "FashionMNIST/raw")
    system_places = ("/usr/share/datasets/fashion-mnist",)
    layout = "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"
    how_to_get = "apt-get install dataset-fashion-mnist (Debian), or data.download=true"
    can_download = True
    base_url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

    @classmethod
    def match(cls, path: Path) -> Path | None:
        if path.is_dir() and all(_find(path, stem) for stem, _ in FILES.values()):
            return path
        return None

    def plan(self, root: Path) -> SourcePlan:
        paths = {k: _find(root, stem) for k, (stem, _) in FILES.items()}
        missing = [FILES[k][0] for k, p in paths.items() if p is None]
        if missing:
            raise DataError(f"{root} lacks {', '.join(missing)}", fix="add the files or set data.download=true.")
        sig = file_signature([p for p in paths.values() if p is not None], root)
        return SourcePlan(
            key_material={"kind": "fashion-mnist-idx", "files": sig},
            decode=lambda: self._decode(root, paths),  # type: ignore[arg-type]
            location=str(root),
        )

    def _decode(self, root: Path, paths: dict[str, Path]) -> RawDataset:
        splits = {}
        for split in ("train", "test"):
            images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataError(
                    f"{root}: {split} images {images.shape} and labels {labels.shape} do not match",
                    fix="use the official files.",
                )
            splits[split] = RawSplit(np.ascontiguousarray(images[:, None]), labels.astype(np.int64))
        return RawDataset(splits=splits, classes=list(CLASSES), description=f"fashion-mnist (IDX files at {root})")

    def download(self, dest: Path) -> None:
        base = self.cfg.download_url or self.base_url
        if not base.endswith("/"):
            base += "/"
        for stem, md5 in FILES.values():
            fetch(base + stem + ".gz", dest / (stem + ".gz"), md5)
