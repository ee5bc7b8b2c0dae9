"""Gene encodings (22 / 23 / parallel), repair, features, initialisation policies and gene distributions."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from natv2.errors import ConfigError, InvalidSubnetError
from natv2.space import SearchSpace, SubnetConfig
from natv2.space.encoding import GeneEncoding
from natv2.space.sampling import (
    CategoricalGenes,
    ContinuousGenes,
    GeneSampler,
    NatInit,
    Natv2Init,
    fit_categorical,
    fit_continuous,
    initial_archive,
    sample_unique,
)

NAT_SPACE = SearchSpace(r=tuple(range(192, 257, 4)), w=(1.0, 1.2))
EE_SPACE = SearchSpace(r=(48, 56, 64), w=(1.0,), nd=(1, 2, 3, 4, 5))
P_SPACE = SearchSpace(r=(48, 56, 64), w=(1.0, 1.2), nw=(1, 2, 3, 4, 5, 6, 7))


def random_valid_genes(enc: GeneEncoding, n: int, seed: int, mode: str = "fill") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return enc.repair(rng.integers(enc.lb, enc.ub + 1, size=(n, enc.n_genes)), mode)


def test_nat_m1_encoding_decodes_to_its_published_subnet():
    # NAT-M1 net.encoding "08 0 1100 1440 5510 5220 8877" (spec §3.2)
    enc = GeneEncoding(NAT_SPACE)
    assert enc.n_genes == 22
    x = [8, 0, 1, 1, 0, 0, 1, 4, 4, 0, 5, 5, 1, 0, 5, 2, 2, 0, 8, 8, 7, 7]
    cfg = enc.decode(x)
    assert (cfg.r, cfg.w, cfg.d) == (224, 1.0, (2, 3, 3, 3, 4))
    # code 5 = (k5, e4), code 8 = (k5, e6), code 1 = (k3, e3), code 7 = (k3, e6)
    assert enc.layer_value(5)[:2] == (5, 4) and enc.layer_value(8)[:2] == (5, 6)
    assert (cfg.ks[8], cfg.e[8]) == (5, 4) and (cfg.ks[16], cfg.e[16]) == (5, 6) and (cfg.ks[18], cfg.e[18]) == (3, 6)
    assert enc.encode(cfg).tolist() == x


@pytest.mark.parametrize("space,n_genes", [(NAT_SPACE, 22), (EE_SPACE, 23), (P_SPACE, 22)])
def test_genes_round_trip_through_configs(space, n_genes):
    enc = GeneEncoding(space)
    assert enc.n_genes == n_genes
    X = random_valid_genes(enc, 200, seed=1)
    for x in X:
        cfg = enc.decode(x)
        assert space.validate(cfg) is cfg
        assert enc.encode(cfg).tolist() == x.tolist()
    rng = np.random.default_rng(2)
    for _ in range(200):  # and configs -> genes -> configs (canonical equality)
        cfg = space.coerce(space.sample(rng))
        assert enc.decode(enc.encode(cfg)) == cfg


def test_exit_gene_is_third_and_selects_the_exit():
    enc = GeneEncoding(EE_SPACE)
    x = random_valid_genes(enc, 1, seed=3)[0]
    x[2] = 1
    assert enc.decode(x).nd == 2
    x[2] = 4
    assert enc.decode(x).nd == 5


def test_parallel_codes_are_nw_major_in_branch_count_order():
    enc = GeneEncoding(P_SPACE)
    assert enc.n_codes == 63 and enc.ub[5] == 63
    # keys ordered [1, 2, 4] (one branch), [3, 5, 6] (two), [7] (three); then e, then k
    expected_keys = [1, 2, 4, 3, 5, 6, 7]
    for block, key in enumerate(expected_keys):
        assert enc.layer_value(1 + 9 * block) == (3, 3, key)
        assert enc.layer_value(9 + 9 * block) == (7, 6, key)
    assert enc.layer_value(1 + 3 + 2) == (7, 4, 1)  # 1 + 3*idx(e=4) + idx(k=7)
    assert enc.layer_code(5, 6, 5) == 1 + 4 * 9 + 2 * 3 + 1


def test_parallel_space_with_a_subset_of_keys_codes_only_those():
    space = SearchSpace(r=(32,), nw=(3, 5, 6, 7))
    enc = GeneEncoding(space)
    assert enc.nw_keys == (3, 5, 6, 7) and enc.n_codes == 36
    for x in random_valid_genes(enc, 50, seed=4):
        assert set(enc.decode(x).nw) <= {3, 5, 6, 7}


def test_bounds_are_the_min_and_max_architectures():
    enc = GeneEncoding(NAT_SPACE)
    assert enc.lower_config() == NAT_SPACE.min_config()
    assert enc.upper_config() == NAT_SPACE.max_config()
    assert enc.lb[2:].reshape(5, 4).tolist() == [[1, 1, 0, 0]] * 5
    assert enc.ub[2:].tolist() == [9] * 20


def test_single_valued_dimensions_are_fixed_genes():
    enc = GeneEncoding(SearchSpace(r=(32,), w=(1.0,)))
    assert enc.n_free == 20  # r and w have one value each
    fixed_depth = GeneEncoding(SearchSpace(r=(32,), d=(4,)))
    assert fixed_depth.lb[2:].min() == 1  # every slot must run


def test_push_and_fill_repair_differ_as_specified():
    enc = GeneEncoding(NAT_SPACE)
    x = enc.ub.copy()
    x[2:6] = [5, 2, 0, 7]  # stage 1: a skipped slot before an active one
    push, fill = enc.repair(x, "push"), enc.repair(x, "fill")
    assert push[2:6].tolist() == [5, 2, 7, 0]
    assert fill[2:6].tolist() == [5, 2, 0, 0]
    assert enc.decode(push).d[0] == 3 and enc.decode(fill).d[0] == 2
    with pytest.raises(InvalidSubnetError):
        enc.decode(x)  # unrepaired genes are refused
    with pytest.raises(ConfigError):
        enc.repair(x, "shuffle")


def test_repair_rounds_depth_down_to_an_allowed_one():
    enc = GeneEncoding(SearchSpace(r=(32,), d=(2, 4)))
    x = enc.ub.copy()
    x[2:6] = [3, 3, 3, 0]  # depth 3 is not allowed
    assert enc.repair(x, "push")[2:6].tolist() == [3, 3, 0, 0]


def test_integer_and_onehot_features():
    enc = GeneEncoding(NAT_SPACE)
    X = random_valid_genes(enc, 10, seed=5)
    integer = enc.features(X, "integer")
    assert integer.shape == (10, enc.n_free) and np.array_equal(integer, X[:, enc.free])
    onehot = enc.features(X, "onehot")
    assert onehot.shape == (10, int((enc.ub - enc.lb + 1)[enc.free].sum()))
    assert np.all(onehot.sum(axis=1) == enc.n_free)
    assert set(np.unique(onehot)) <= {0.0, 1.0}
    with pytest.raises(InvalidSubnetError):
        enc.features(X, "binary")


def depth_frequencies(cfgs):
    counts = collections.Counter(d for c in cfgs for d in c.d)
    total = sum(counts.values())
    return np.array([counts[2], counts[3], counts[4]]) / total


def test_natv2_init_gives_depth_probabilities_one_third_two_ninths_four_ninths():
    enc = GeneEncoding(SearchSpace(r=(48, 56, 64)))
    freq = depth_frequencies(Natv2Init().draw(enc, 4000, np.random.default_rng(0), "fill"))
    assert np.allclose(freq, [1 / 3, 2 / 9, 4 / 9], atol=0.015)
    # NAT's uniform genes with push repair are nearly always deep: (1/100, 18/100, 81/100)
    freq_nat = depth_frequencies(NatInit().draw(enc, 4000, np.random.default_rng(0), "push"))
    assert np.allclose(freq_nat, [0.01, 0.18, 0.81], atol=0.015)


def test_initial_archive_holds_bounds_and_distinct_draws():
    enc = GeneEncoding(SearchSpace(r=(32,)))
    cfgs = initial_archive(enc, "nat", 30, np.random.default_rng(1), "push")
    assert len(cfgs) == 30 and len(set(cfgs)) == 30
    assert cfgs[-2] == enc.lower_config() and cfgs[-1] == enc.upper_config()


def test_sample_unique_refuses_more_subnets_than_the_space_has():
    space = SearchSpace(ks=(3,), e=(3,), d=(2,), r=(32,))  # exactly one subnet
    enc = GeneEncoding(space)
    with pytest.raises(ConfigError, match="too small"):
        sample_unique(lambda k, r: NatInit().draw(enc, k, r, "fill"), 2, np.random.default_rng(0))


def test_categorical_fit_matches_frequencies_and_smoothing_keeps_support():
    lb, ub = np.array([0, 1]), np.array([3, 2])
    X = np.array([[0, 1], [0, 1], [2, 2], [0, 1]])
    dist = fit_categorical(X, lb, ub)
    assert np.allclose(dist.probs[0], [0.75, 0, 0.25, 0]) and np.allclose(dist.probs[1], [0.75, 0.25])
    smooth = fit_categorical(X, lb, ub, smoothing=1.0)
    assert np.allclose(smooth.probs[0], [4 / 8, 1 / 8, 2 / 8, 1 / 8])
    draws = dist.sample_genes(4000, np.random.default_rng(0))
    assert set(np.unique(draws[:, 0])) == {0, 2}
    assert abs((draws[:, 0] == 0).mean() - 0.75) < 0.03


def test_continuous_fit_picks_a_family_and_samples_within_bounds():
    enc = GeneEncoding(NAT_SPACE)
    X = random_valid_genes(enc, 150, seed=6)
    dist = fit_continuous(X, enc.lb, enc.ub)
    assert isinstance(dist, ContinuousGenes)
    families = {f.family for f in dist.fits}
    assert families <= {"norm", "uniform", "laplace", "logistic", "gumbel_r", "gumbel_l", "expon", "cauchy"}
    draws = dist.sample_genes(500, np.random.default_rng(1))
    assert np.all(draws >= enc.lb) and np.all(draws <= enc.ub)
    # a constant gene becomes a point mass
    const = fit_continuous(np.full((10, 1), 3), np.array([0]), np.array([9]))
    assert const.fits[0].family == "point" and np.all(const.sample_genes(5, np.random.default_rng(0)) == 3)


def test_gene_sampler_draws_repaired_configs_of_the_space():
    enc = GeneEncoding(EE_SPACE)
    sampler = GeneSampler(enc, Natv2Init().distribution(enc), "fill")
    rng = np.random.default_rng(7)
    for _ in range(50):
        cfg = sampler(rng)
        assert isinstance(cfg, SubnetConfig) and EE_SPACE.validate(cfg) is cfg
    assert isinstance(Natv2Init().distribution(enc), CategoricalGenes)
