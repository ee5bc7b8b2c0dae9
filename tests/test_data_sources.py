"""Dataset sources, the decode-once cache, splits and bad-input errors (natv2.data).

Real data: small copies of ../shared/data/cifar10 (root from $NATV2_TEST_DATA); the full
60,000-image load is in test_data_cifar10_full.py (slow tier). Other formats are written by the
tests themselves in their official layouts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from natv2.data import DataConfig, list_datasets, load_dataset
from natv2.data.download import extract
from natv2.data.raw import RawDataset
from natv2.errors import ConfigError, DataError

from _real_data import cifar10_class_folders

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def copy_cifar_subset(dest: Path, classes: list[str], n_train: int, n_test: int) -> Path:
    src = cifar10_class_folders()
    for split, n in (("train", n_train), ("test", n_test)):
        for c in classes:
            (dest / split / c).mkdir(parents=True)
            for f in sorted((src / split / c).iterdir())[:n]:
                shutil.copy2(f, dest / split / c / f.name)
    return dest


def decode_calls(monkeypatch) -> list[str]:
    """Record every image file decoded (the in-process path: small sets skip the pool)."""
    import natv2.data.images as images

    calls: list[str] = []
    real = images._decode_one

    def counting(path, size):
        calls.append(path)
        return real(path, size)

    monkeypatch.setattr(images, "_decode_one", counting)
    return calls


# -- real CIFAR-10 images ------------------------------------------------------------------------


def test_imagefolder_copy_of_shared_cifar10_decodes_exactly(tmp_path):
    root = copy_cifar_subset(tmp_path / "img", ["bird", "cat", "ship"], n_train=50, n_test=20)
    cfg = DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "cache"), val_size=15)
    s = load_dataset(cfg)
    assert s.classes == ["bird", "cat", "ship"]
    assert (len(s.train), len(s.val), len(s.test)) == (135, 15, 60)
    assert s.val.class_counts(3) == [5, 5, 5]
    assert s.train.images.dtype.is_floating_point is False and s.train.images.shape[1:] == (3, 32, 32)
    assert s.train.labels.dtype == s.test.labels.dtype and str(s.test.labels.dtype) == "torch.int64"
    # test images keep their file order: the first test image of "cat" equals a direct Pillow decode
    first_cat = sorted((root / "test" / "cat").iterdir())[0]
    expected = np.asarray(Image.open(first_cat).convert("RGB")).transpose(2, 0, 1)
    assert np.array_equal(s.test.images[20].numpy(), expected) and int(s.test.labels[20]) == 1
    assert all(0.0 < m < 1.0 for m in s.mean) and all(0.1 < v < 0.5 for v in s.std)


def test_cifar10_class_folders_small_copy(tmp_path):
    root = copy_cifar_subset(tmp_path / "cifar10", CIFAR_CLASSES, n_train=8, n_test=3)
    s = load_dataset(DataConfig(name="cifar10", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0.25))
    assert s.classes == CIFAR_CLASSES
    assert (len(s.train), len(s.val), len(s.test)) == (60, 20, 30)
    assert s.val.class_counts(10) == [2] * 10 and s.test.class_counts(10) == [3] * 10
    assert "class-per-folder" in s.source


def test_cifar10_with_missing_class_folders_is_refused(tmp_path):
    root = copy_cifar_subset(tmp_path / "cifar10", CIFAR_CLASSES[:7], n_train=2, n_test=1)
    with pytest.raises(DataError, match="7 class folders; cifar10 has 10") as err:
        load_dataset(DataConfig(name="cifar10", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0))
    assert "imagefolder" in err.value.fix


# -- cache ---------------------------------------------------------------------------------------


def test_second_load_comes_from_cache_and_edits_invalidate_it(tmp_path, monkeypatch):
    root = copy_cifar_subset(tmp_path / "img", ["cat", "dog"], n_train=10, n_test=4)
    cfg = DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "cache"), val_size=4)
    calls = decode_calls(monkeypatch)
    import natv2.data.load as load_mod

    stats_calls = []
    real_stats = load_mod.channel_stats
    monkeypatch.setattr(load_mod, "channel_stats", lambda x: stats_calls.append(1) or real_stats(x))
    first = load_dataset(cfg)
    assert len(calls) == 28 and len(stats_calls) == 1
    calls.clear()
    second = load_dataset(cfg)
    assert calls == []  # served from the cache, nothing decoded
    assert len(stats_calls) == 1 and second.mean == first.mean and second.std == first.std  # stats cached too
    assert first.cache_path == second.cache_path and (Path(first.cache_path) / "manifest.json").is_file()
    assert np.array_equal(first.train.images.numpy(), second.train.images.numpy())
    # replacing one file's content changes the key: decoded again, and the new pixels show up
    victim = sorted((root / "train" / "dog").iterdir())[0]
    Image.new("RGB", (32, 32), (255, 0, 0)).save(victim, quality=100)
    third = load_dataset(DataConfig(**{**cfg.__dict__, "val_size": 0}))
    assert len(calls) == 28 and third.cache_path != first.cache_path
    red = third.train.images[third.train.labels == 1][0]
    assert red[0].float().mean() > 240 and red[1].float().mean() < 15


def test_cache_dir_falls_back_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NATV2_CACHE", str(tmp_path / "envcache"))
    s = load_dataset(DataConfig(name="digits", val_size=100))
    assert Path(s.cache_path).is_relative_to(tmp_path / "envcache")


def test_half_written_cache_entry_is_ignored_and_rebuilt(tmp_path, monkeypatch):
    root = copy_cifar_subset(tmp_path / "img", ["cat", "dog"], n_train=5, n_test=2)
    cfg = DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "cache"), val_size=0)
    path = Path(load_dataset(cfg).cache_path)
    (path / "train_images.npy").write_bytes(b"garbage")  # a damaged entry
    calls = decode_calls(monkeypatch)
    again = load_dataset(cfg)
    assert len(calls) == 14 and len(again.train) == 10
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temp folders left


# -- mixed image modes, sizes, bad files --------------------------------------------------------


def _mixed_mode_tree(root: Path) -> None:
    """Three classes; greyscale, palette (with and without transparency), RGBA, LA, 16-bit
    greyscale and RGB images; most are 12x12, two are larger."""
    specs = {
        "grey": [("L", (12, 12)), ("L", (12, 12)), ("I;16", (12, 12))],
        "palette": [("P", (12, 12)), ("P_t", (12, 12)), ("P", (20, 16))],
        "alpha": [("RGBA", (12, 12)), ("LA", (12, 12)), ("RGB", (24, 24))],
    }
    for cls, items in specs.items():
        for split in ("train", "test"):
            (root / split / cls).mkdir(parents=True)
        for i, (mode, (w, h)) in enumerate(items):
            if mode == "I;16":
                im = Image.fromarray(np.full((h, w), 32896, dtype=np.uint16))  # 32896 / 65535 * 255 = 128
            elif mode.startswith("P"):
                im = Image.new("P", (w, h), 1)
                im.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
                if mode == "P_t":
                    im.info["transparency"] = 0
            elif mode == "RGBA":
                im = Image.new("RGBA", (w, h), (10, 200, 30, 255))
                im.putpixel((0, 0), (255, 255, 255, 0))  # fully transparent corner -> black
            elif mode == "LA":
                im = Image.new("LA", (w, h), (90, 255))
            else:
                im = Image.new(mode, (w, h), 77 if mode == "L" else (5, 6, 7))
            fmt = "PNG"
            im.save(root / "train" / cls / f"{i}.png", format=fmt)
        Image.new("L", (12, 12), 50).save(root / "test" / cls / "t.png")


def test_mixed_modes_become_rgb_at_the_most_common_size(tmp_path):
    root = tmp_path / "mixed"
    _mixed_mode_tree(root)
    s = load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0))
    assert s.classes == ["alpha", "grey", "palette"] and s.num_classes == 3
    assert s.image_size == (12, 12) and tuple(s.train.images.shape) == (9, 3, 12, 12)
    by_file = {}
    for idx in range(9):
        by_file.setdefault(int(s.train.labels[idx]), []).append(s.train.images[idx])
    alpha, grey, palette = by_file[0], by_file[1], by_file[2]
    assert alpha[0][:, 0, 0].tolist() == [0, 0, 0]  # transparent pixel composited on black
    assert alpha[0][:, 5, 5].tolist() == [10, 200, 30]
    assert alpha[1][:, 3, 3].tolist() == [90, 90, 90]  # LA -> grey RGB
    assert alpha[2][:, 3, 3].tolist() == [5, 6, 7]  # 24x24 RGB resized to 12x12
    assert grey[0][:, 4, 4].tolist() == [77, 77, 77]
    assert grey[2][:, 4, 4].tolist() == [128, 128, 128]  # 16-bit scaled to 8 bits
    assert palette[0][:, 2, 2].tolist() == [200, 30, 40]
    assert palette[2][:, 2, 2].tolist() == [200, 30, 40]  # 20x16 palette image resized
    assert len(s.test) == 3


def test_image_size_field_resizes_everything(tmp_path):
    root = tmp_path / "mixed"
    _mixed_mode_tree(root)
    s = load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0, image_size=16))
    assert s.image_size == (16, 16) and s.test.images.shape[-2:] == (16, 16)


def _with_truncated_jpeg(root: Path) -> Path:
    copy_cifar_subset(root, ["cat", "dog"], n_train=6, n_test=2)
    bad = root / "train" / "dog" / "broken.jpg"
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return bad


def test_truncated_jpeg_is_named_in_the_error(tmp_path):
    root = tmp_path / "img"
    bad = _with_truncated_jpeg(root)
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0))
    assert str(bad) in err.value.problem and "skip_bad_images" in err.value.fix


def test_truncated_jpeg_skipped_and_counted_with_the_option(tmp_path):
    root = tmp_path / "img"
    _with_truncated_jpeg(root)
    cfg = DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0, skip_bad_images=True)
    s = load_dataset(cfg)
    assert s.skipped == ["train/dog/broken.jpg"] and s.summary()["skipped"] == 1
    assert len(s.train) == 12 and s.train.class_counts(2) == [6, 6]
    # the cache remembers the skip: a strict load of the same files still refuses
    with pytest.raises(DataError, match="train/dog/broken.jpg"):
        load_dataset(DataConfig(**{**cfg.__dict__, "skip_bad_images": False}))


def _bad_tree(base: Path, kind: str) -> Path:
    root = base / kind
    if kind == "missing":
        return root
    root.mkdir()
    if kind == "no-class-folders":
        (root / "train").mkdir()
        Image.new("RGB", (4, 4)).save(root / "train" / "a.png")
    elif kind == "empty-class":
        (root / "train" / "cat").mkdir(parents=True)
        (root / "train" / "dog").mkdir()
        Image.new("RGB", (4, 4)).save(root / "train" / "cat" / "a.png")
    elif kind == "wrong-layout":
        (root / "readme.txt").write_text("x")
    return root


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("no-class-folders", "no class folders .*1 images lie directly"),
        ("empty-class", "dog contains no images"),
        ("wrong-layout", "does not hold the 'imagefolder' dataset"),
    ],
)
def test_bad_folders_give_data_errors_with_a_fix(tmp_path, kind, pattern):
    root = _bad_tree(tmp_path, kind)
    with pytest.raises(DataError, match=pattern) as err:
        load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0))
    assert err.value.fix


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="cifar11"))
    for known in ("cifar10", "cifar100", "fashion-mnist", "tiny-imagenet", "imagefolder", "digits"):
        assert known in err.value.problem
    assert "imagefolder" in err.value.fix


def test_test_folder_with_unknown_class_is_refused(tmp_path):
    root = copy_cifar_subset(tmp_path / "img", ["cat", "dog"], n_train=2, n_test=1)
    (root / "test" / "horse").mkdir()
    with pytest.raises(DataError, match="no counterpart in train"):
        load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0))


# -- official CIFAR python batches ---------------------------------------------------------------


def _write_cifar10_batches(folder: Path, n_per_batch: int = 12) -> dict[str, np.ndarray]:
    """Files in the official format (a dict with bytes keys, pickled at protocol 2)."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"f{i}.png".encode() for i in range(n_per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = data
    meta = {b"num_cases_per_batch": n_per_batch, b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def test_cifar10_python_batches(tmp_path):
    written = _write_cifar10_batches(tmp_path / "data" / "cifar-10-batches-py")
    cfg = DataConfig(name="cifar10", root=str(tmp_path / "data"), cache_dir=str(tmp_path / "c"), val_size=0)
    s = load_dataset(cfg)
    assert s.classes == CIFAR_CLASSES and (len(s.train), len(s.test)) == (60, 12)
    assert np.array_equal(s.test.images.numpy().reshape(12, 3072), written["test_batch"])
    assert np.array_equal(s.train.images[:12].numpy().reshape(12, 3072), written["data_batch_1"])
    assert "python batches" in s.source


def test_doctored_cifar_pickle_cannot_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar10_batches(folder)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match="not a plain CIFAR batch") as err:
        load_dataset(DataConfig(name="cifar10", root=str(folder), cache_dir=str(tmp_path / "c"), val_size=0))
    assert "data_batch_3" in err.value.problem and "system is not allowed" in err.value.problem
    assert not marker.exists()


def test_cifar100_python_files(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name, n in (("train", 30), ("test", 10)):
        batch = {b"fine_labels": [int(v) for v in rng.integers(0, 100, n)], b"coarse_labels": [0] * n,
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [f"class{i:03d}".encode() for i in range(100)]
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": names, b"coarse_label_names": []}, protocol=2))
    s = load_dataset(DataConfig(name="cifar100", root=str(tmp_path), cache_dir=str(tmp_path / "c"), val_size=0))
    assert s.num_classes == 100 and (len(s.train), len(s.test)) == (30, 10)


# -- download with checksum ----------------------------------------------------------------------


def _cifar10_archive(tmp_path: Path) -> Path:
    _write_cifar10_batches(tmp_path / "src" / "cifar-10-batches-py", n_per_batch=4)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive


def test_download_with_wrong_checksum_is_refused_and_leaves_nothing(tmp_path):
    archive = _cifar10_archive(tmp_path)  # not the official file: its md5 differs
    dest = tmp_path / "dl"
    cfg = DataConfig(name="cifar10", root=str(dest), cache_dir=str(tmp_path / "c"), download=True,
                     download_url=archive.as_uri(), val_size=0)
    with pytest.raises(DataError, match="md5 [0-9a-f]{32}, expected") as err:
        load_dataset(cfg)
    assert "c58f30108f718f92721af3b95e74349a" in err.value.problem
    assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))


def test_download_with_matching_checksum_extracts_and_loads(tmp_path, monkeypatch):
    from natv2.data.sources.cifar import Cifar10Source

    from natv2.data.discovery import download_dir

    archive = _cifar10_archive(tmp_path)
    monkeypatch.setattr(Cifar10Source, "archive_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    dest = tmp_path / "datahome" / "cifar10"
    cfg = DataConfig(name="cifar10", root=str(dest), cache_dir=str(tmp_path / "c"), download=True,
                     download_url=archive.as_uri(), val_size=0)
    s = load_dataset(cfg)
    assert (len(s.train), len(s.test)) == (20, 4)
    assert (dest / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert not (dest / "cifar-10-python.tar.gz").exists()
    # with no root, downloads go to $NATV2_DATA/<name>, else <cache>/data/<name>
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "home"))
    assert download_dir(Cifar10Source) == tmp_path / "home" / "cifar10"
    monkeypatch.delenv("NATV2_DATA")
    assert download_dir(Cifar10Source, str(tmp_path / "c")) == tmp_path / "c" / "data" / "cifar10"


def test_a_mirror_with_its_own_checksum_is_fetched_once_by_natv2_datasets(tmp_path):
    """`natv2 datasets --fetch` (what `make test` runs) downloads into $NATV2_DATA, checked against
    data.download_md5, and a second call finds the data instead of downloading it again."""
    archive = _cifar10_archive(tmp_path)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    home = tmp_path / "home"
    env = dict(os.environ, NATV2_DATA=str(home), NATV2_CACHE=str(tmp_path / "cache"))
    fetch = [str(Path(sys.executable).parent / "natv2"), "datasets", "--fetch", "--set", "data.name=cifar10",
             "--set", f"data.download_url={archive.as_uri()}", "--set", f"data.download_md5={md5.upper()}"]
    first = subprocess.run(fetch, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"cifar10: {home / 'cifar10' / 'cifar-10-batches-py'}"
    archive.unlink()  # the second call must not need it
    again = subprocess.run(fetch, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert again.returncode == 0 and again.stdout == first.stdout and "downloading" not in again.stderr
    as_json = subprocess.run([*fetch, "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert json.loads(as_json.stdout) == {"name": "cifar10", "location": str(home / "cifar10" / "cifar-10-batches-py")}
    wrong = subprocess.run([*fetch[:-1], "data.download_md5=" + "f" * 32], capture_output=True, text=True,
                           env=dict(env, NATV2_DATA=str(tmp_path / "other")), cwd=tmp_path, timeout=60)
    assert wrong.returncode == 2 and "could not download" in wrong.stderr and not (tmp_path / "other").exists()


def test_download_md5_must_be_a_checksum():
    with pytest.raises(ConfigError, match="32 hexadecimal digits"):
        DataConfig(download_md5="c58f30108f718f92")
    assert DataConfig(download_md5="C58F30108F718F92721AF3B95E74349A").download_md5 == "c58f30108f718f92721af3b95e74349a"


def test_extract_refuses_paths_outside_the_folder(tmp_path):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        for name in ("../escaped.txt", "/abs.txt", "ok/inside.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"hi"))
    extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "ok" / "inside.txt").read_bytes() == b"hi"
    assert not (tmp_path / "escaped.txt").exists() and not Path("/abs.txt").exists()


# -- Fashion-MNIST, Tiny ImageNet, digits --------------------------------------------------------


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    blob = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    path.write_bytes(gzip.compress(blob) if gz else blob)


def _fashion_tree(folder: Path, gz: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.repeat(np.arange(10, dtype=np.uint8), 4),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }
    for stem, arr in arrays.items():
        _write_idx(folder / (stem + (".gz" if gz else "")), arr, gz)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_files_found_through_natv2_data(tmp_path, monkeypatch, gz):
    arrays = _fashion_tree(tmp_path / "datahome" / "fashion-mnist", gz)
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "datahome"))
    s = load_dataset(DataConfig(name="fashion-mnist", cache_dir=str(tmp_path / "c"), val_size=10))
    assert (len(s.train), len(s.val), len(s.test)) == (30, 10, 10)
    assert s.val.class_counts(10) == [1] * 10 and s.classes[0] == "T-shirt/top"
    test = s.test.images.numpy()
    assert test.shape == (10, 3, 28, 28)  # greyscale served as 3 equal channels
    assert np.array_equal(test[:, 0], arrays["t10k-images-idx3-ubyte"]) and np.array_equal(test[:, 2], test[:, 0])
    entry = {e.name: e for e in list_datasets(DataConfig(cache_dir=str(tmp_path / "c")))}["fashion-mnist"]
    assert entry.found and entry.location == str(tmp_path / "datahome" / "fashion-mnist")


def test_fashion_mnist_truncated_idx_is_refused(tmp_path):
    folder = tmp_path / "fm"
    _fashion_tree(folder, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        load_dataset(DataConfig(name="fashion-mnist", root=str(folder), cache_dir=str(tmp_path / "c"), val_size=0))


def test_tiny_imagenet_official_layout(tmp_path):
    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n02", "n01", "n03"]
    rng = np.random.default_rng(4)
    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    lines = []
    for w in wnids:
        (root / "train" / w / "images").mkdir(parents=True)
        (root / "train" / w / f"{w}_boxes.txt").write_text("ignored")
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / "train" / w / "images" / f"{w}_{i}.JPEG")
        name = f"val_{w}.JPEG"
        Image.new("L", (64, 64), 100).save(root / "val" / "images" / name)  # greyscale, as a few official ones
        lines.append(f"{name}\t{w}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    s = load_dataset(DataConfig(name="tiny-imagenet", root=str(tmp_path), cache_dir=str(tmp_path / "c"), val_size=0.25))
    assert s.classes == ["n01", "n02", "n03"] and s.image_size == (64, 64)
    assert (len(s.train), len(s.val), len(s.test)) == (9, 3, 3)
    assert sorted(s.test.labels.tolist()) == [0, 1, 2]
    assert s.test.images[0].float().mean().round() == 100


def test_digits_has_a_fixed_test_split_and_configurable_validation():
    a = load_dataset(DataConfig(name="digits", val_size=0.1, split_seed=0))
    b = load_dataset(DataConfig(name="digits", val_size=200, split_seed=5))
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert a.test.images.equal(b.test.images) and a.test.labels.equal(b.test.labels)
    assert len(b.val) == 200 and not a.val.images.equal(b.val.images[: len(a.val)])
    assert a.image_size == (8, 8) and a.test.images.max() == 255


# -- splits -------------------------------------------------------------------------------------


def test_stratified_holdout_keeps_class_shares_and_is_seeded():
    from natv2.data.stratify import stratified_holdout

    labels = np.repeat(np.arange(4), [100, 50, 30, 20])
    keep, held = stratified_holdout(labels, 40, seed=3)
    assert len(held) == 40 and len(keep) == 160 and not set(keep) & set(held)
    assert np.bincount(labels[held]).tolist() == [20, 10, 6, 4]
    again, held2 = stratified_holdout(labels, 40, seed=3)
    assert np.array_equal(held, held2)
    assert not np.array_equal(held, stratified_holdout(labels, 40, seed=4)[1])
    # uneven quotas: the counts still add up and stay within one image of the exact share
    _, h = stratified_holdout(labels, 7, seed=0)
    counts = np.bincount(labels[h], minlength=4)
    assert counts.sum() == 7 and np.all(np.abs(counts - 7 * np.array([100, 50, 30, 20]) / 200) < 1)


def test_validation_never_touches_test_and_train_subset_is_stratified(tmp_path):
    root = copy_cifar_subset(tmp_path / "img", ["bird", "cat", "ship", "truck"], n_train=20, n_test=5)
    base = DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=0.2)
    s = load_dataset(base)
    sub = load_dataset(DataConfig(**{**base.__dict__, "train_subset": 32}))
    assert (len(s.train), len(s.val), len(s.test)) == (64, 16, 20)
    assert sub.train.class_counts(4) == [8, 8, 8, 8] and sub.val.images.equal(s.val.images)
    assert sub.test.images.equal(s.test.images)
    # no validation image is also a training image
    train_rows = {bytes(r) for r in s.train.images.reshape(len(s.train), -1).numpy()}
    assert not any(bytes(r) in train_rows for r in s.val.images.reshape(len(s.val), -1).numpy())
    assert sub.mean != s.mean  # statistics come from the (sub)set actually trained on
    with pytest.raises(DataError, match="train_subset"):
        load_dataset(DataConfig(**{**base.__dict__, "train_subset": 65}))


def test_source_val_folder_is_used_as_validation(tmp_path):
    root = copy_cifar_subset(tmp_path / "img", ["cat", "dog"], n_train=6, n_test=2)
    shutil.copytree(root / "test", root / "val")
    s = load_dataset(DataConfig(name="imagefolder", root=str(root), cache_dir=str(tmp_path / "c"), val_size=3))
    assert (len(s.train), len(s.val), len(s.test)) == (12, 4, 4)


# -- discovery ---------------------------------------------------------------------------------


def test_list_datasets_reports_where_each_dataset_is(tmp_path, monkeypatch):
    copy_cifar_subset(tmp_path / "home" / "cifar10", CIFAR_CLASSES, n_train=1, n_test=1)
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    entries = {e.name: e for e in list_datasets(DataConfig(cache_dir=str(tmp_path / "c")))}
    assert set(entries) == {"cifar10", "cifar100", "fashion-mnist", "tiny-imagenet", "imagefolder", "digits"}
    assert entries["cifar10"].found and entries["cifar10"].location == str(tmp_path / "home" / "cifar10")
    assert entries["digits"].found
    assert not entries["tiny-imagenet"].found and "tiny-imagenet-200.zip" in entries["tiny-imagenet"].note


def test_list_datasets_checks_the_root_the_config_names(tmp_path, monkeypatch):
    """`natv2 datasets --set data.root=DIR` reports DIR, not the usual places."""
    copy_cifar_subset(tmp_path / "mine" / "c10", CIFAR_CLASSES, n_train=1, n_test=1)
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    cfg = DataConfig(root=str(tmp_path / "mine" / "c10"), cache_dir=str(tmp_path / "c"))
    entry = next(e for e in list_datasets(cfg) if e.name == "cifar10")
    assert entry.found and entry.location == str(tmp_path / "mine" / "c10")
    wrong = DataConfig(root=str(tmp_path / "nothing"), cache_dir=str(tmp_path / "c"))
    entry = next(e for e in list_datasets(wrong) if e.name == "cifar10")
    assert not entry.found and f"data.root={tmp_path / 'nothing'} does not hold cifar10" in entry.note


def test_missing_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "nothing"))
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="tiny-imagenet", cache_dir=str(tmp_path / "c")))
    assert str(tmp_path / "nothing" / "tiny-imagenet") in err.value.problem
    assert "data.download=true" in err.value.fix and "data.root" in err.value.fix


def test_raw_dataset_rejects_labels_out_of_range():
    from natv2.data.raw import RawSplit

    with pytest.raises(ValueError):
        RawDataset({"train": RawSplit(np.zeros((2, 3, 4, 4), np.uint8), np.array([0, 3]))}, ["a", "b"], "x")


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.delenv("NATV2_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    s = load_dataset(DataConfig(name="fashion-mnist", cache_dir=str(tmp_path / "c"), val_size=5000))
    assert s.source.endswith(f"at {DEBIAN_FASHION})")
    assert (len(s.train), len(s.val), len(s.test)) == (55000, 5000, 10000)
    assert s.test.class_counts(10) == [1000] * 10 and s.val.class_counts(10) == [500] * 10
    assert abs(s.mean[0] - 0.2860) < 0.001 and abs(s.std[0] - 0.3530) < 0.001


@pytest.mark.parametrize("val_size", [1.5, -3, 1438, True])
def test_bad_val_size_is_a_data_error(val_size):
    with pytest.raises(DataError, match="val_size"):
        load_dataset(DataConfig(name="digits", val_size=val_size))


def test_incomplete_cifar_batches_name_the_missing_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar10_batches(folder, n_per_batch=2)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="data_batch_4") as err:
        load_dataset(DataConfig(name="cifar10", root=str(folder), cache_dir=str(tmp_path / "c"), val_size=0))
    assert "download" in err.value.fix
