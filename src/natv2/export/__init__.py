"""natv2.export: safetensors + JSON bundles, TorchScript and ONNX, each checked against PyTorch.

Names are imported lazily, so reading `natv2.export.config` (the config layer does) never loads torch.
"""

from __future__ import annotations

from natv2.lazy import lazy_getattr

_EXPORTS = {
    "ExportConfig": "natv2.export.config",
    "ExportRecord": "natv2.export.exporter",
    "export_model": "natv2.export.exporter",
    "load_model": "natv2.export.bundle",
    "read_metadata": "natv2.export.bundle",
    "save_bundle": "natv2.export.bundle",
    "export_finetuned": "natv2.export.runner",
    "export_inherited": "natv2.export.runner",
    "run_export_stage": "natv2.export.stage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
