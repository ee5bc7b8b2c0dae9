"""natv2.export: safetensors + JSON bundles, TorchScript and ONNX, each checked against PyTorch.

Names are imported lazily, so reading `natv2.export.config` (the config layer does) never loads torch.
"""

from __future__ import annotations

from natv2.lazy import by_module, lazy_getattr

_EXPORTS = by_module({
    "natv2.export.config": "ExportConfig",
    "natv2.export.exporter": "ExportRecord export_model",
    "natv2.export.bundle": "load_model read_metadata save_bundle",
    "natv2.export.runner": "export_finetuned export_inherited",
    "natv2.export.stage": "run_export_stage",
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
