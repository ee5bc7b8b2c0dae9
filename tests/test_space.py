"""SubnetConfig canonical form, JSON round-trip and SearchSpace validation."""

import json

import numpy as np
import pytest

from natv2.errors import InvalidSubnetError
from natv2.space import SearchSpace, SubnetConfig


def test_json_round_trip_is_exact():
    space = SearchSpace(r=(32, 40), nd=(1, 2, 3, 4, 5))
    rng = np.random.default_rng(0)
    for _ in range(50):
        cfg = space.sample(rng)
        back = SubnetConfig.from_json(cfg.to_json())
        assert back.to_dict() == cfg.to_dict()
        assert back == cfg and hash(back) == hash(cfg)


def test_inactive_layers_do_not_change_identity():
    base = dict(ks=[3] * 20, e=[4] * 20, d=[2, 2, 2, 2, 2], r=32)
    other = dict(base, ks=[3, 3, 7, 7] * 5)  # only inactive slots differ
    assert SubnetConfig.from_dict(base) == SubnetConfig.from_dict(other)
    assert SubnetConfig.from_dict(base).digest() == SubnetConfig.from_dict(other).digest()
    changed = dict(base, ks=[5, 3, 3, 3] + [3] * 16)
    assert SubnetConfig.from_dict(base) != SubnetConfig.from_dict(changed)


def test_stages_past_exit_are_dropped():
    a = SubnetConfig.from_dict(dict(ks=[3] * 20, e=[4] * 20, d=[2, 3, 4, 4, 4], r=32, nd=2))
    b = SubnetConfig.from_dict(dict(ks=[3] * 8 + [7] * 12, e=[4] * 20, d=[2, 3, 2, 2, 2], r=32, nd=2))
    assert a == b
    assert a.to_dict(canonical=True)["d"] == [2, 3]


def test_pruned_nat_format_expands_to_same_subnet():
    full = SubnetConfig.from_dict(dict(ks=[3, 5, 7, 3] * 5, e=[3, 4, 6, 6] * 5, d=[2, 3, 4, 2, 3], r=224))
    pruned = full.to_dict(canonical=True)
    assert len(pruned["ks"]) == 14
    assert SubnetConfig.from_dict(pruned) == full


def test_validation_names_field_value_and_allowed():
    space = SearchSpace(r=(32,))
    cfg = SubnetConfig.from_dict(dict(ks=[3] * 19 + [9], e=[4] * 20, d=[4] * 5, r=32))
    with pytest.raises(InvalidSubnetError) as err:
        space.validate(cfg)
    msg = str(err.value)
    assert "'ks'" in msg and "9" in msg and "[3, 5, 7]" in msg
    with pytest.raises(InvalidSubnetError, match="'r'"):
        space.validate(SubnetConfig.from_dict(dict(ks=[3] * 20, e=[4] * 20, d=[4] * 5, r=64)))
    with pytest.raises(InvalidSubnetError, match="unknown subnet field"):
        SubnetConfig.from_dict(dict(ks=[3] * 20, e=[4] * 20, d=[4] * 5, r=32, depth=3))


def test_bounds_and_sampling_stay_in_space():
    space = SearchSpace(r=(32, 40), nd=(1, 2, 3, 4, 5), nw=(1, 2, 3, 4, 5, 6, 7))
    assert space.validate(space.max_config()).nd == 5
    assert space.min_config().nw[0] == 1 and space.max_config().nw[0] == 7
    rng = np.random.default_rng(1)
    samples = [space.sample(rng) for _ in range(100)]
    assert all(space.validate(c) is c for c in samples)
    assert len(set(samples)) > 90 and {c.nd for c in samples} == set(space.nd) and {c.r for c in samples} == {32, 40}
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space  # the space survives JSON
