"""Search-space values: `SubnetConfig`, `SearchSpace`, encodings. Knows nothing of torch modules."""

from natv2.space.space import NW_BITS, SearchSpace, nw_keys_for_branch_counts, ofa_mbv3_space
from natv2.space.subnet import N_LAYERS, N_STAGES, SLOTS_PER_STAGE, SubnetConfig

__all__ = [
    "N_LAYERS",
    "N_STAGES",
    "NW_BITS",
    "SLOTS_PER_STAGE",
    "SearchSpace",
    "SubnetConfig",
    "nw_keys_for_branch_counts",
    "ofa_mbv3_space",
]
