"""Batched augmentation on uint8 tensors: one vectorised pass per batch, no per-image loop.

Training: a crop strategy (pad-and-crop, random-resized-crop, or none) that also resizes to the
batch's resolution and folds in the horizontal flip, then normalisation. Output: float32,
N x 3 x r x r in channels_last memory format (what MobileNet-style nets run fastest on, on CPU).
Evaluation: a resize strategy (plain resize, or resize to ceil(r / 0.875) + centre crop).

All randomness comes from an explicit torch.Generator, so a batch is reproducible from a seed.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence

import torch
import torch.nn.functional as F

from natv2.data.config import DataConfig
from natv2.errors import ConfigError

CL = torch.channels_last


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a float batch; antialiased when shrinking; a no-op at the same size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


class Normalize:
    """(x / 255 - mean) / std as one fused multiply-add: x * scale + bias."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        std_t = torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self.bias = (-torch.tensor(mean, dtype=torch.float32) / std_t).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addcmul(self.bias, x, self.scale)
        return out.contiguous(memory_format=CL)


class CropStrategy(Protocol):
    """Crop (and flip where `flip` is True) a uint8 batch and resize it to `size`: float32 in
    0..255 units."""

    def __call__(
        self, images: torch.Tensor, size: tuple[int, int], flip: torch.Tensor | None, gen: torch.Generator
    ) -> torch.Tensor: ...


class PadCrop:
    """CIFAR-style: zero-pad by `pad` pixels, crop the native size at a random offset, flip.
    The crop and flip are one gather (torch.take) with per-image offsets; its index tensor is
    laid out N, H, W, C so the result is channels_last without another copy."""

    def __init__(self, pad: int = 4) -> None:
        if pad < 0:
            raise ConfigError(f"data.pad={pad} is negative", fix="use 0 or more pixels.")
        self.pad = pad

    def __call__(self, images, size, flip, gen):
        n, c, h, w = images.shape
        p = self.pad
        padded = F.pad(images, (p, p, p, p)) if p else images.contiguous()
        hp, wp = h + 2 * p, w + 2 * p
        oy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=gen)
        cols = torch.arange(w).expand(n, w)
        if flip is not None:
            cols = torch.where(flip[:, None], (w - 1) - cols, cols)
        start = torch.arange(n) * (c * hp * wp) + oy * wp + ox  # (n,)
        idx = (start[:, None] + cols).view(n, 1, w, 1)  # n, 1, W, 1
        idx = idx + (torch.arange(h) * wp).view(1, h, 1, 1)  # n, H, W, 1
        idx = idx + (torch.arange(c) * (hp * wp)).view(1, 1, 1, c)  # n, H, W, C
        crop = torch.take(padded, idx).permute(0, 3, 1, 2)  # NCHW view, channels_last storage
        return resize(crop.to(torch.float32), size)


class RandomResizedCrop:
    """Inception-style crop: area fraction ~ U(scale), aspect ratio log-uniform in `ratio`,
    uniform position; resampled to `size` bilinearly with one affine grid per image and one
    grid_sample call for the batch. Crops are clamped to the image rather than re-drawn."""

    def __init__(self, scale: tuple[float, float] = (0.35, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> None:
        if not 0.0 < scale[0] <= scale[1] <= 1.0:
            raise ConfigError(f"crop scale {scale} is not within (0, 1]", fix="set data.crop_scale_min in (0, 1].")
        self.scale, self.log_ratio = scale, (math.log(ratio[0]), math.log(ratio[1]))

    def __call__(self, images, size, flip, gen):
        n, _, h, w = images.shape
        u = torch.rand(4, n, generator=gen, dtype=torch.float64)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[0]
        ar = torch.exp(self.log_ratio[0] + (self.log_ratio[1] - self.log_ratio[0]) * u[1])
        cw = torch.sqrt(area * ar).clamp(max=1.0)  # crop width / image width
        ch = torch.sqrt(area / ar).clamp(max=1.0)
        cx = -1.0 + cw + u[2] * (2.0 - 2.0 * cw)  # crop centre in [-1, 1] coordinates
        cy = -1.0 + ch + u[3] * (2.0 - 2.0 * ch)
        sx = cw if flip is None else torch.where(flip, -cw, cw)
        theta = torch.zeros(n, 2, 3, dtype=torch.float32)
        theta[:, 0, 0], theta[:, 0, 2] = sx.float(), cx.float()
        theta[:, 1, 1], theta[:, 1, 2] = ch.float(), cy.float()
        x = images.to(torch.float32).contiguous(memory_format=CL)
        grid = F.affine_grid(theta, [n, x.shape[1], size[0], size[1]], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class NoCrop:
    """The whole image, flipped where asked, resized to `size`."""

    def __call__(self, images, size, flip, gen):
        x = images.to(torch.float32)
        if flip is not None:
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return resize(x.contiguous(memory_format=CL), size)


CROPS: dict[str, Callable[[DataConfig], CropStrategy]] = {
    "pad_crop": lambda cfg: PadCrop(cfg.pad),
    "random_resized_crop": lambda cfg: RandomResizedCrop((cfg.crop_scale_min, 1.0)),
    "none": lambda cfg: NoCrop(),
}


def _size(resolution: int | tuple[int, int]) -> tuple[int, int]:
    return (resolution, resolution) if isinstance(resolution, int) else (int(resolution[0]), int(resolution[1]))


class TrainTransform:
    """Crop + flip + resize + normalise a uint8 batch in one vectorised pass."""

    def __init__(self, crop: CropStrategy, mean: Sequence[float], std: Sequence[float], hflip: bool = True) -> None:
        self.crop, self.normalize, self.hflip = crop, Normalize(mean, std), hflip

    def __call__(self, images: torch.Tensor, resolution: int | tuple[int, int], gen: torch.Generator) -> torch.Tensor:
        flip = torch.rand(images.shape[0], generator=gen) < 0.5 if self.hflip else None
        return self.normalize(self.crop(images, _size(resolution), flip, gen))


class EvalResize(Protocol):
    """Bring a uint8 batch to `size` deterministically: float32 in 0..255 units."""

    def __call__(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor: ...


class ResizeOnly:
    """Resize the whole image to r x r (small images whose native size is the working size)."""

    def __call__(self, images, size):
        return resize(images.to(torch.float32).contiguous(memory_format=CL), size)


class ResizeCenterCrop:
    """ImageNet-style: resize the shorter side to ceil(r / ratio), then centre crop r x r."""

    def __init__(self, ratio: float = 0.875) -> None:
        if not 0.0 < ratio <= 1.0:
            raise ConfigError(f"data.eval_crop_ratio={ratio} is not in (0, 1]", fix="use e.g. 0.875.")
        self.ratio = ratio

    def __call__(self, images, size):
        h, w = images.shape[-2:]
        short = math.ceil(max(size) / self.ratio)
        scale = short / min(h, w)
        inter = (max(size[0], round(h * scale)), max(size[1], round(w * scale)))
        x = resize(images.to(torch.float32).contiguous(memory_format=CL), inter)
        top, left = (inter[0] - size[0]) // 2, (inter[1] - size[1]) // 2
        return x[:, :, top : top + size[0], left : left + size[1]]


EVAL_RESIZES: dict[str, Callable[[DataConfig], EvalResize]] = {
    "resize": lambda cfg: ResizeOnly(),
    "resize_center_crop": lambda cfg: ResizeCenterCrop(cfg.eval_crop_ratio),
}

# "auto" centre-crops only at ImageNet scale; small images are resized as they are.
AUTO_CENTER_CROP_ABOVE = 64


class EvalTransform:
    """Resize strategy + normalisation, no randomness."""

    def __init__(self, strategy: EvalResize, mean: Sequence[float], std: Sequence[float]) -> None:
        self.strategy, self.normalize = strategy, Normalize(mean, std)

    def __call__(self, images: torch.Tensor, resolution: int | tuple[int, int]) -> torch.Tensor:
        return self.normalize(self.strategy(images, _size(resolution)))


def make_train_transform(cfg: DataConfig, mean: Sequence[float], std: Sequence[float]) -> TrainTransform:
    try:
        crop = CROPS[cfg.augment](cfg)
    except KeyError:
        raise ConfigError(f"data.augment={cfg.augment!r} is unknown", fix=f"use one of {', '.join(CROPS)}.") from None
    return TrainTransform(crop, mean, std, hflip=cfg.hflip)


def make_eval_transform(
    cfg: DataConfig, mean: Sequence[float], std: Sequence[float], native_size: tuple[int, int]
) -> EvalTransform:
    mode = cfg.eval_resize
    if mode == "auto":
        mode = "resize_center_crop" if max(native_size) > AUTO_CENTER_CROP_ABOVE else "resize"
    try:
        strategy = EVAL_RESIZES[mode](cfg)
    except KeyError:
        raise ConfigError(
            f"data.eval_resize={cfg.eval_resize!r} is unknown", fix=f"use auto or one of {', '.join(EVAL_RESIZES)}."
        ) from None
    return EvalTransform(strategy, mean, std)
