"""Tiny ImageNet in its official layout. The official val split (labelled) is our test split;
validation is held out of train like everywhere else (NATv2: 15%)."""

from __future__ import annotations

import os
from pathlib import Path

from natv2.data.download import extract, fetch
from natv2.data.images import list_images
from natv2.data.registry import register
from natv2.data.sources.base import DatasetSource, SourcePlan
from natv2.data.sources.folders import FileListing, decode_listing
from natv2.errors import DataError


@register
class TinyImageNetSource(DatasetSource):
    """train/<wnid>/images/*.JPEG, val/images/*.JPEG + val/val_annotations.txt, wnids.txt.
    Classes are the wnids, sorted. Images are 64 x 64 RGB (a few greyscale ones become RGB)."""

    name = "tiny-imagenet"
    aliases = ("tiny-imagenet-200", "tiny_imagenet", "TinyImageNet")
    layout = "wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt"
    how_to_get = "http://cs231n.stanford.edu/tiny-imagenet-200.zip, or data.download=true"
    can_download = True
    archive_url = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
    archive_md5 = "90528d7ca1a48142e341f4ef8d21d0de"
    size = (64, 64)

    @classmethod
    def match(cls, path: Path) -> Path | None:
        for cand in (path, path / "tiny-imagenet-200"):
            if (cand / "wnids.txt").is_file() and (cand / "train").is_dir():
                return cand
        return None

    def plan(self, root: Path) -> SourcePlan:
        wnids = sorted({w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()})
        if not wnids:
            raise DataError(f"{root / 'wnids.txt'} lists no classes", fix="use the official archive.")
        index = {w: i for i, w in enumerate(wnids)}
        listing = FileListing(root=root, classes=wnids)
        files, labels = [], []
        for w in wnids:
            folder = root / "train" / w
            imgs = list_images(folder) if folder.is_dir() else []
            if not imgs:
                raise DataError(
                    f"class folder {folder} is missing or contains no images",
                    fix="re-extract the official archive (or remove the class from wnids.txt).",
                )
            files += imgs
            labels += [index[w]] * len(imgs)
        listing.files["train"], listing.labels["train"] = files, labels
        ann = root / "val" / "val_annotations.txt"
        if ann.is_file():
            listing.files["test"], listing.labels["test"] = self._official_val(root, ann, index)
        desc = f"tiny-imagenet (official layout at {root}; test = official val)"
        return SourcePlan(
            key_material=listing.key_material("tiny-imagenet", self.size),
            decode=lambda: decode_listing(listing, self.size, self.cfg, desc),
            location=str(root),
        )

    @staticmethod
    def _official_val(root: Path, ann: Path, index: dict[str, int]) -> tuple[list[str], list[int]]:
        files, labels = [], []
        for n, line in enumerate(ann.read_text().splitlines(), 1):
            parts = line.split("\t")
            if not line.strip():
                continue
            if len(parts) < 2 or parts[1] not in index:
                raise DataError(f"{ann}, line {n}: cannot read {line!r} (file <TAB> wnid ...)", fix="use the official file.")
            files.append(os.path.join(root, "val", "images", parts[0]))
            labels.append(index[parts[1]])
        order = sorted(range(len(files)), key=lambda i: files[i])
        return [files[i] for i in order], [labels[i] for i in order]

    def download(self, dest: Path) -> None:
        url = self.cfg.download_url or self.archive_url
        archive = fetch(url, dest / "tiny-imagenet-200.zip", self.cfg.download_md5 or self.archive_md5)
        extract(archive, dest)
        archive.unlink()
