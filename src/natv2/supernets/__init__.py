"""Elastic supernets (OFA MobileNetV3, OFAv2 family), subnet extraction, BN re-calibration, checkpoints."""

from natv2.supernets.arch import MacroArch, subnet_spec
from natv2.supernets.bn import recalibrate_bn
from natv2.supernets.checkpoint import (
    load_subnet,
    load_supernet,
    load_supernet_weights,
    read_subnet_meta,
    save_subnet,
    save_supernet,
)
from natv2.supernets.ofa_import import from_ofa_state_dict, translate_ofa_keys
from natv2.supernets.registry import (
    SupernetVariant,
    create,
    create_from_arch,
    get_variant,
    list_supernets,
    register_supernet,
)
from natv2.supernets.supernet import Supernet

__all__ = [
    "MacroArch",
    "Supernet",
    "SupernetVariant",
    "create",
    "create_from_arch",
    "from_ofa_state_dict",
    "get_variant",
    "list_supernets",
    "load_subnet",
    "load_supernet",
    "load_supernet_weights",
    "read_subnet_meta",
    "recalibrate_bn",
    "register_supernet",
    "save_subnet",
    "save_supernet",
    "subnet_spec",
    "translate_ofa_keys",
]
