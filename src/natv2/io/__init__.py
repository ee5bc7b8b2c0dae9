"""Safe file I/O: atomic writes of text, JSON, YAML and safetensors."""

from natv2.io.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "read_json"]
