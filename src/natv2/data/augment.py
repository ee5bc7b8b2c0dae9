"""Batched augmentation on uint8 tensors: one vectorised pass per batch, no per-image loop.

Every transform here is "take a box of each source image, flip it or not, and resample it to
r x r": pad-and-crop (a box shifted into the zero padding), random-resized-crop (a random box),
plain resize (the whole image) and resize + centre crop (a centred box). So there is one
engine: per-image separable resampling matrices (a triangle/bilinear filter, widened when
shrinking so downscaling is antialiased, like Pillow's), applied to the whole batch with two
batched matrix products. Normalisation is folded in on the small input side, and the output
comes out float32, N x 3 x r x r, already in channels_last memory format (what MobileNet-style
nets run fastest on, on CPU).

All randomness comes from an explicit torch.Generator, so a batch is reproducible from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch

from natv2.data.config import DataConfig
from natv2.errors import ConfigError

Size = tuple[int, int]


@dataclass(frozen=True)
class Boxes:
    """One source box per image, in pixel units of the (padded) source: left, top, width, height
    (float tensors of shape N). `pad` is the zero padding the boxes may reach into."""

    x0: torch.Tensor
    y0: torch.Tensor
    w: torch.Tensor
    h: torch.Tensor
    pad: int = 0


def resample_weights(
    start: torch.Tensor, length: torch.Tensor, out: int, size: int, *, constant_border: bool = False,
    flip: torch.Tensor | None = None, device: torch.device | None = None,
) -> torch.Tensor:
    """N x out x size matrices mapping `size` source pixels to `out` samples of [start, start +
    length). Triangle filter of radius max(1, length / out): bilinear when enlarging, an
    antialiasing filter when shrinking (as Pillow and F.interpolate(antialias=True) do).

    Border: rows are renormalised over the taps inside the image (edge pixels extend), unless
    `constant_border`, where the weight falling outside is returned as one extra last column
    (N x out x size+1): the caller multiplies it by the padding value.

    `device`: where the matrices are built (default: where `start` is). The box numbers stay on the
    CPU, so the border margin is read without waiting for the accelerator.
    """
    step = length / out
    centres = start[:, None] + (torch.arange(out, dtype=torch.float32, device=start.device) + 0.5) * step[:, None] - 0.5
    if flip is not None:
        centres = torch.where(flip[:, None], centres.flip(1), centres)
    radius = step.clamp(min=1.0)[:, None, None]
    margin = 0
    if constant_border:  # taps far enough outside that every row's filter is complete
        reach = torch.cat([-(centres.min(dim=1).values), centres.max(dim=1).values - (size - 1)])
        margin = max(0, int(torch.ceil(reach.max() + radius.max()).item()))
    if device is not None:  # the small per-image numbers were drawn on the CPU; the big matrices are built here
        centres = centres.to(device, non_blocking=True)
        radius = radius.to(device, non_blocking=True)
    taps = torch.arange(-margin, size + margin, dtype=torch.float32, device=centres.device)
    w = (1.0 - (centres[:, :, None] - taps).abs() / radius).clamp_(min=0.0)
    w = w / w.sum(dim=-1, keepdim=True).clamp_(min=1e-12)
    if not constant_border:
        return w
    inside = w[:, :, margin : margin + size]
    return torch.cat([inside, (1.0 - inside.sum(dim=-1, keepdim=True)).clamp_(min=0.0)], dim=-1)


class Normalize:
    """(x / 255 - mean) / std as x * scale + bias; also the value zero padding takes."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        std_t = torch.tensor(list(std), dtype=torch.float32)
        if std_t.numel() == 0 or bool((std_t <= 0).any()):
            raise ConfigError(f"channel std {list(std)} must be positive", fix="check the dataset statistics.")
        self.scale = 1.0 / (255.0 * std_t)
        self.bias = -torch.tensor(list(mean), dtype=torch.float32) / std_t
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {torch.device("cpu"): (self.scale, self.bias)}

    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, bias) on `device`, copied there once."""
        if device not in self._on:
            self._on[device] = (self.scale.to(device), self.bias.to(device))
        return self._on[device]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise an N x C x H x W tensor in 0..255 units (reference path, used in tests)."""
        scale, bias = self.on(x.device)
        return torch.addcmul(bias.view(1, -1, 1, 1), x.float(), scale.view(1, -1, 1, 1))


def resample(images: torch.Tensor, boxes: Boxes, size: Size, norm: Normalize, flip: torch.Tensor | None = None) -> torch.Tensor:
    """Crop `boxes` out of uint8 `images` (N x C x H x W), flip where `flip`, resize to `size`,
    normalise: float32 N x C x size, channels_last. Two batched matmuls, no per-image loop.

    Boxes reaching into the padding (boxes.pad > 0) see the normalised value of black there,
    carried by one extra "padding" tap per direction (no padded copy of the batch is made).
    Boxes and flips are CPU tensors (drawn from a CPU generator, so a seed gives the same batch on
    every device); the images may live on an accelerator, and then so does the output.
    """
    n, c, h, w = images.shape
    rh, rw = size
    pad = boxes.pad > 0
    ex = int(pad)
    dev = images.device  # the work happens where the images are (an accelerator keeps the data on it)
    scale, bias = norm.on(dev)
    # 1. normalise in NCHW order (a plain vectorised pass), plus the padding tap column
    src = torch.empty((n, c, h, w + ex), dtype=torch.float32, device=dev)
    torch.addcmul(bias.view(1, c, 1, 1), images, scale.view(1, c, 1, 1), out=src[..., :w])
    if pad:
        src[..., w] = bias.view(1, c, 1)
    rx = resample_weights(boxes.x0, boxes.w, rw, w, constant_border=pad, flip=flip, device=dev)  # N, rw, W(+1)
    ry = resample_weights(boxes.y0, boxes.h, rh, h, constant_border=pad, device=dev)  # N, rh, H(+1)
    # 2. along W: (N, C*H, W) @ (N, W, rw)
    t = torch.bmm(src.view(n, c * h, w + ex), rx.transpose(1, 2))
    # 3. re-lay out as (N, H, rw, C) (the only layout change), plus the padding tap row
    tp = torch.empty((n, h + ex, rw, c), dtype=torch.float32, device=dev)
    tp[:, :h].copy_(t.view(n, c, h, rw).permute(0, 2, 3, 1))
    if pad:
        tp[:, h] = bias
    # 4. along H: (N, rh, H) @ (N, H, rw*C) -> (N, rh, rw, C) memory = channels_last
    out = torch.bmm(ry, tp.view(n, h + ex, rw * c))
    return out.view(n, rh, rw, c).permute(0, 3, 1, 2)


# -- training crops --------------------------------------------------------------------------


class CropStrategy(Protocol):
    """Draw one source box per image of an N-image batch of h x w images."""

    def boxes(self, n: int, h: int, w: int, gen: torch.Generator) -> Boxes: ...


class PadCrop:
    """CIFAR-style: zero-pad by `pad` pixels, take a native-size window at a random integer
    offset. At the native resolution this is an exact pixel shift."""

    def __init__(self, pad: int = 4) -> None:
        if pad < 0:
            raise ConfigError(f"data.pad={pad} is negative", fix="use 0 or more pixels.")
        self.pad = pad

    def boxes(self, n, h, w, gen):
        p = self.pad
        oy = torch.randint(0, 2 * p + 1, (n,), generator=gen).float() - p
        ox = torch.randint(0, 2 * p + 1, (n,), generator=gen).float() - p
        return Boxes(ox, oy, torch.full((n,), float(w)), torch.full((n,), float(h)), pad=p)


class RandomResizedCrop:
    """Inception-style: area fraction ~ U(scale), aspect ratio log-uniform in `ratio`, uniform
    position. A box larger than the image is clamped to it rather than re-drawn."""

    def __init__(self, scale: tuple[float, float] = (0.35, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> None:
        if not 0.0 < scale[0] <= scale[1] <= 1.0:
            raise ConfigError(f"crop scale {scale} is not within (0, 1]", fix="set data.crop_scale_min in (0, 1].")
        self.scale, self.log_ratio = scale, (math.log(ratio[0]), math.log(ratio[1]))

    def boxes(self, n, h, w, gen):
        u = torch.rand(4, n, generator=gen)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[0]
        aspect = torch.exp(self.log_ratio[0] + (self.log_ratio[1] - self.log_ratio[0]) * u[1])
        bw = (torch.sqrt(area * aspect).clamp(max=1.0)) * w
        bh = (torch.sqrt(area / aspect).clamp(max=1.0)) * h
        return Boxes(u[2] * (w - bw), u[3] * (h - bh), bw, bh)


class NoCrop:
    """The whole image."""

    def boxes(self, n, h, w, gen):
        return _full_boxes(n, h, w)


def _full_boxes(n: int, h: int, w: int) -> Boxes:
    return Boxes(torch.zeros(n), torch.zeros(n), torch.full((n,), float(w)), torch.full((n,), float(h)))


CROPS: dict[str, Callable[[DataConfig], CropStrategy]] = {
    "pad_crop": lambda cfg: PadCrop(cfg.pad),
    "random_resized_crop": lambda cfg: RandomResizedCrop((cfg.crop_scale_min, 1.0)),
    "none": lambda cfg: NoCrop(),
}


def _size(resolution: int | Size) -> Size:
    return (resolution, resolution) if isinstance(resolution, int) else (int(resolution[0]), int(resolution[1]))


class TrainTransform:
    """Crop + flip + resize + normalise a uint8 batch in one vectorised pass."""

    def __init__(self, crop: CropStrategy, mean: Sequence[float], std: Sequence[float], hflip: bool = True) -> None:
        self.crop, self.norm, self.hflip = crop, Normalize(mean, std), hflip

    def __call__(self, images: torch.Tensor, resolution: int | Size, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = images.shape
        flip = torch.rand(n, generator=gen) < 0.5 if self.hflip else None
        return resample(images, self.crop.boxes(n, h, w, gen), _size(resolution), self.norm, flip)


# -- evaluation ------------------------------------------------------------------------------


class EvalResize(Protocol):
    """The deterministic source box that evaluation at `size` uses."""

    def boxes(self, n: int, h: int, w: int, size: Size) -> Boxes: ...


class ResizeOnly:
    """The whole image resized to r x r (small images, whose native size is the working size)."""

    def boxes(self, n, h, w, size):
        return _full_boxes(n, h, w)


class ResizeCenterCrop:
    """ImageNet-style: resize the shorter side to ceil(r / ratio), centre-crop r x r; done as one
    resampling of the equivalent centred source box."""

    def __init__(self, ratio: float = 0.875) -> None:
        if not 0.0 < ratio <= 1.0:
            raise ConfigError(f"data.eval_crop_ratio={ratio} is not in (0, 1]", fix="use e.g. 0.875.")
        self.ratio = ratio

    def boxes(self, n, h, w, size):
        scale = math.ceil(max(size) / self.ratio) / min(h, w)  # resized / source
        bh, bw = min(h, size[0] / scale), min(w, size[1] / scale)
        return Boxes(torch.full((n,), (w - bw) / 2), torch.full((n,), (h - bh) / 2),
                     torch.full((n,), float(bw)), torch.full((n,), float(bh)))


EVAL_RESIZES: dict[str, Callable[[DataConfig], EvalResize]] = {
    "resize": lambda cfg: ResizeOnly(),
    "resize_center_crop": lambda cfg: ResizeCenterCrop(cfg.eval_crop_ratio),
}

# "auto" centre-crops only at ImageNet scale; small images are resized as they are.
AUTO_CENTER_CROP_ABOVE = 64


class EvalTransform:
    """Resize strategy + normalisation, no randomness."""

    def __init__(self, strategy: EvalResize, mean: Sequence[float], std: Sequence[float]) -> None:
        self.strategy, self.norm = strategy, Normalize(mean, std)

    def __call__(self, images: torch.Tensor, resolution: int | Size) -> torch.Tensor:
        n, _, h, w = images.shape
        size = _size(resolution)
        return resample(images, self.strategy.boxes(n, h, w, size), size, self.norm)


def make_train_transform(cfg: DataConfig, mean: Sequence[float], std: Sequence[float]) -> TrainTransform:
    """The training augmentation of `cfg` (its crop, flips, normalisation), as one batched transform."""
    try:
        crop = CROPS[cfg.augment](cfg)
    except KeyError:
        raise ConfigError(f"data.augment={cfg.augment!r} is unknown", fix=f"use one of {', '.join(CROPS)}.") from None
    return TrainTransform(crop, mean, std, hflip=cfg.hflip)


def eval_mode(cfg: DataConfig, native_size: Size) -> str:
    if cfg.eval_resize == "auto":
        return "resize_center_crop" if max(native_size) > AUTO_CENTER_CROP_ABOVE else "resize"
    return cfg.eval_resize


def make_eval_transform(cfg: DataConfig, mean: Sequence[float], std: Sequence[float], native_size: Size) -> EvalTransform:
    """The evaluation transform of `cfg` (resize or crop to the requested resolution, then normalise)."""
    mode = eval_mode(cfg, native_size)
    try:
        strategy = EVAL_RESIZES[mode](cfg)
    except KeyError:
        raise ConfigError(
            f"data.eval_resize={cfg.eval_resize!r} is unknown", fix=f"use auto or one of {', '.join(EVAL_RESIZES)}."
        ) from None
    return EvalTransform(strategy, mean, std)
