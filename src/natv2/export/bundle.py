"""The safetensors + JSON model bundle, as `natv2.export` exposes it. The format itself lives in
natv2.supernets.bundle, beside the subnet checkpoint it wraps, so that fine-tuning (which writes
bundles) and export (which reads them) both depend on it and not on each other."""

from natv2.supernets.bundle import STEM, WRAPPER_KEY, load_model, read_metadata, save_bundle

__all__ = ["STEM", "WRAPPER_KEY", "load_model", "read_metadata", "save_bundle"]
