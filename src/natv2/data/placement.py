"""Where the decoded dataset lives while a stage runs: host memory, or the accelerator's.

On a GPU, copying every augmented float batch from host memory costs more than the training
step's own launches at small resolutions. Keeping the uint8 splits on the device (CIFAR-10 is
184 MB) makes augmentation, index selection and normalisation run there, and each step moves
only a few hundred bytes of random box coordinates drawn on the CPU.
"""

from __future__ import annotations

import torch

from natv2.data.splits import DatasetSplits

# The share of the accelerator's free memory the splits may take under `on_device: auto`.
AUTO_DEVICE_SHARE = 0.25


def place_splits(splits: DatasetSplits, device: torch.device | str | None, policy: str = "auto") -> DatasetSplits:
    """`splits` moved to `device` when `policy` allows it and they fit; unchanged otherwise.

    policy "auto": an accelerator keeps the splits if they take under AUTO_DEVICE_SHARE of its free
    memory; "off": always host memory (each batch is copied to the device after augmentation).
    """
    if device is None or policy == "off":
        return splits
    dev = torch.device(device)
    if dev.type != "cuda" or splits.device == dev:
        return splits
    free, _total = torch.cuda.mem_get_info(dev)
    if splits.nbytes > AUTO_DEVICE_SHARE * free:
        return splits
    return splits.to(dev)
