"""Pack a class-per-folder CIFAR-10 tree as an archive in the official python layout.

`tools/fresh_clone_check.sh` serves the result from a local folder in place of the real download
(a machine without network cannot fetch the official archive, and a copy of it is not at hand).
The layout is the official one (cifar-10-batches-py/ with data_batch_1..5, test_batch and
batches.meta, pickles with bytes keys), so natv2's `cifar10` source reads it exactly as it reads
the download. Its checksum differs from the official archive's: the script prints it, to be passed
as data.download_md5.

    python tools/cifar10_archive.py CIFAR10_FOLDERS OUT.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = 5
FOLDER = "cifar-10-batches-py"


def read_split(root: Path) -> tuple[np.ndarray, list[int], list[bytes]]:
    """Rows of 3072 bytes (channel planes, as the official batches store them), labels and file names."""
    rows, labels, names = [], [], []
    for label, name in enumerate(CLASSES):
        for path in sorted((root / name).iterdir()):
            pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
            rows.append(pixels.transpose(2, 0, 1).reshape(-1))
            labels.append(label)
            names.append(path.name.encode())
    return np.stack(rows), labels, names


def batch_bytes(label: str, data: np.ndarray, labels: list[int], names: list[bytes]) -> bytes:
    doc = {b"batch_label": label.encode(), b"labels": labels, b"data": data, b"filenames": names}
    return pickle.dumps(doc, protocol=2)


def batches(src: Path) -> dict[str, bytes]:
    """File name -> contents of every file in the archive's folder."""
    rng = np.random.default_rng(0)  # the official train batches are shuffled across classes
    data, labels, names = read_split(src / "train")
    order = rng.permutation(len(labels))
    files = {}
    for i, part in enumerate(np.array_split(order, TRAIN_BATCHES), 1):
        files[f"data_batch_{i}"] = batch_bytes(f"training batch {i} of {TRAIN_BATCHES}", data[part],
                                               [labels[j] for j in part], [names[j] for j in part])
    files["test_batch"] = batch_bytes("testing batch 1 of 1", *read_split(src / "test"))
    files["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in CLASSES]}, protocol=2)
    return files


def write_archive(files: dict[str, bytes], out: Path) -> str:
    """Write the tar.gz and return its md5 (the same for the same images: no time stamps inside)."""
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return hashlib.md5(out.read_bytes(), usedforsecurity=False).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, help="a CIFAR-10 tree: train/<class>/*, test/<class>/*")
    parser.add_argument("out", type=Path, help="the .tar.gz to write")
    args = parser.parse_args()
    print(write_archive(batches(args.folders), args.out))


if __name__ == "__main__":
    main()
