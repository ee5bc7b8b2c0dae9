"""natv2: multi-objective neural architecture search (OFA/OFAv2 supernets, NAT and NATv2)."""

__version__ = "0.1.0"


def load_model(path, map_location="cpu"):
    """Rebuild a model written by `natv2 export` or `natv2 finetune` (folder, stem, .safetensors or .json).

    Needs natv2 alone (no supernet, no pickle). Imported lazily so `import natv2` stays light.
    """
    from natv2.export.bundle import load_model as _load_model

    return _load_model(path, map_location)
