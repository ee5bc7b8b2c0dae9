"""Static network modules (MBConv, dense stage, parallel block, exit head, `StaticNet`).

Extracted subnets are built from these; they hold only the weights one architecture uses.
"""

from natv2.nn.dropout import set_dropout
from natv2.nn.layers import (
    PARALLEL_BRANCHES,
    BNParams,
    ConvBNAct,
    ExitHead,
    MBConv,
    ParallelBlock,
    SqueezeExcite,
    TransformBranch,
)
from natv2.nn.network import STATIC_FORMAT, StaticNet, build_layer, build_static_net, register_layer
from natv2.nn.ops import ACTIVATIONS, build_act, make_divisible, mid_channels, se_channels
from natv2.nn.stages import Stage, run_blocks

__all__ = [
    "ACTIVATIONS",
    "BNParams",
    "ConvBNAct",
    "ExitHead",
    "MBConv",
    "PARALLEL_BRANCHES",
    "ParallelBlock",
    "STATIC_FORMAT",
    "SqueezeExcite",
    "Stage",
    "StaticNet",
    "TransformBranch",
    "build_act",
    "build_layer",
    "build_static_net",
    "make_divisible",
    "mid_channels",
    "register_layer",
    "run_blocks",
    "set_dropout",
    "se_channels",
]
