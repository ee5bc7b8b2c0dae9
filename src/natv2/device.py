"""`run.device` to a torch device: the one place that decides what "auto" means and refuses "cuda"
without a GPU (every stage asks here, so training and fine-tuning can never disagree)."""

from __future__ import annotations

import torch

from natv2.errors import ConfigError


def resolve_device(device: str | torch.device) -> torch.device:
    """auto: cuda when torch sees a GPU, else cpu; cuda without one is a ConfigError with the fix."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"run.device is '{name}' but torch sees no CUDA device", "use run.device=cpu or auto")
    return torch.device(name)
