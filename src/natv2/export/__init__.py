"""natv2.export: safetensors + JSON bundles, TorchScript and ONNX, each checked against PyTorch."""

from natv2.export.bundle import load_model, read_metadata, save_bundle
from natv2.export.config import ExportConfig
from natv2.export.exporter import ExportRecord, export_model

__all__ = ["ExportConfig", "ExportRecord", "export_model", "load_model", "read_metadata", "save_bundle"]
