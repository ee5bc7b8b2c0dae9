"""Any class-per-folder image tree: train/<class>/..., optional val/ and test/ alike."""

from __future__ import annotations

from pathlib import Path

from natv2.data.registry import register
from natv2.data.sources.base import DatasetSource, SourcePlan
from natv2.data.sources.folders import FileListing, decode_listing, scan_class_tree


def has_class_tree(path: Path) -> bool:
    train = path / "train"
    return train.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in train.iterdir())


@register
class ImageFolderSource(DatasetSource):
    """Images of any mode (greyscale, palette, RGBA...) become RGB; images of other sizes are
    resized to data.image_size, or to the most common size in the data. Classes = folder names
    of train/, sorted."""

    name = "imagefolder"
    layout = "<root>/train/<class>/<image> (optional <root>/val/<class>/..., <root>/test/<class>/...)"
    how_to_get = "any folder of images sorted into one sub-folder per class"

    @classmethod
    def match(cls, path: Path) -> Path | None:
        return path if path.is_dir() and (path / "train").is_dir() else None

    def plan(self, root: Path) -> SourcePlan:
        listing = FileListing(root=root, classes=[])
        scan_class_tree(listing, "train", root / "train", define_classes=True)
        for split in ("val", "test"):
            if (root / split).is_dir():
                scan_class_tree(listing, split, root / split, define_classes=False)
        size = (self.cfg.image_size, self.cfg.image_size) if self.cfg.image_size else None
        desc = f"image folder at {root}"
        return SourcePlan(
            key_material=listing.key_material("imagefolder", size),
            decode=lambda: decode_listing(listing, size, self.cfg, desc),
            location=str(root),
        )
