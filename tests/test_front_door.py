"""The front door (`from natv2 import ...`), the one registry helper, and load_model's import footprint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import natv2
from natv2.errors import ConfigError, DataError
from natv2.registry import DuplicateNameError, Registry


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_front_door_names_import():
    from natv2 import SearchConfig, SubnetConfig, create_supernet, list_supernets, load_model, run_search  # noqa: F401

    assert "ofa_mbv3" in list_supernets()
    net = create_supernet("ofa_mbv3", n_classes=10, r=[32])
    assert net.n_classes == 10 and SearchConfig().policy == "natv2"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        natv2.nope  # noqa: B018


def test_import_natv2_is_cheap_and_load_model_needs_no_training_code():
    # what the issue asks to print False; torch itself is fine (a model needs it), training code is not
    code = ("import natv2, sys; natv2.load_model; natv2.predict; import natv2.export; "
            "print(any(m.startswith(('natv2.train','natv2.finetune')) for m in sys.modules))")
    assert _python(code) == "False"
    assert _python("import natv2, sys; print('torch' in sys.modules)") == "False"


def test_old_multi_exit_import_path_still_works():
    from natv2.finetune.multi_exit import MultiExitEnsemble as Old
    from natv2.nn.multi_exit import MultiExitEnsemble as New
    from natv2.train.losses import normalise_weights

    assert Old is New and normalise_weights([1, 3]) == [0.25, 0.75]


def test_run_search_accepts_a_search_config():
    from natv2 import SearchConfig, run_search

    def evaluate(cfgs):
        return [0.5 + 0.001 * (sum(c.e) % 100) for c in cfgs]

    tiny = dict(archive_size=8, candidates_per_iter=2, iterations=1, emo_pop=10, emo_gens=2, subset_pop=10,
                subset_gens=2, top_n=6, surrogate="rbf", preprocess_multiplier=0)
    space = {"r": [32], "w": [1.0], "n_classes": 10}
    a = run_search(space, evaluate, SearchConfig(policy="nat", objectives=("err", "macs"), seed=3, **tiny))
    assert a.config.policy == "nat" and a.config.seed == 3 and a.config.objectives == ("err", "macs")
    assert a.config.repair == "push"  # left None in the SearchConfig: the nat preset decides
    assert a.config.archive_size == 8
    b = run_search(space, evaluate, config=SearchConfig(policy="nat", objectives=("err", "macs"), seed=3, **tiny))
    assert [e.config for e in a.archive] == [e.config for e in b.archive]  # the same search, the same archive
    with pytest.raises(ConfigError, match="third argument is a SearchConfig") as err:
        run_search(space, evaluate, ["err", "macs"])  # the spelling before SearchConfig held everything
    assert "SearchConfig(policy=" in err.value.fix
    with pytest.raises(TypeError):
        run_search(space, evaluate, SearchConfig(**tiny), policy="natv2")  # no second place for the policy
    with pytest.raises(ConfigError, match="objective_fns names"):
        run_search(space, evaluate, SearchConfig(**tiny), objective_fns={"size": len})


def test_registry_refuses_duplicates_and_names_what_it_knows():
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)
    reg.register("a", 1)  # the same object again is a no-op
    with pytest.raises(DuplicateNameError, match="widget 'a' is already registered"):
        reg.register("a", 2)
    with pytest.raises(ValueError):  # still a ValueError, as the registries raised before
        reg.register("a", 3)

    @reg.register("b")
    def b() -> int:
        return 2

    assert reg.names() == ["a", "b"] and reg.get("b") is b and "b" in reg and len(reg) == 2
    with pytest.raises(ConfigError, match="unknown widget 'c'; known: a, b"):
        reg.get("c")
    assert reg.unregister("a") == 1 and reg.names() == ["b"] and reg.unregister("a") is None
    reg.register("a", 2)  # a freed name takes a new object
    assert reg.get("a") == 2


def test_every_registry_refuses_a_second_object_under_a_taken_name():
    from natv2.data.registry import DATASETS, register
    from natv2.data.sources.digits import DigitsSource
    from natv2.nn.network import register_layer
    from natv2.predictors.registry import register as register_surrogate
    from natv2.search.objectives import OBJECTIVES
    from natv2.supernets.registry import SupernetVariant, register_supernet

    with pytest.raises(DuplicateNameError, match="supernet 'ofa_mbv3'"):
        register_supernet("ofa_mbv3")(lambda: SupernetVariant())
    with pytest.raises(DuplicateNameError, match="dataset 'digits'"):
        register(type("Other", (DigitsSource,), {"name": "digits"}))
    with pytest.raises(DuplicateNameError, match="surrogate 'rbf'"):
        import dataclasses

        register_surrogate("rbf")(dataclasses.make_dataclass("Other", [("seed", int, 0)]))
    with pytest.raises(DuplicateNameError, match="objective 'params'"):
        OBJECTIVES.register("params")(lambda ctx: (lambda cfg: 0.0))
    with pytest.raises(DuplicateNameError, match="objective 'err'"):
        OBJECTIVES.register("err")(lambda ctx: (lambda cfg: 0.0))
    with pytest.raises(DuplicateNameError, match="layer type 'conv'"):
        register_layer("conv")(lambda c, bn: None)
    assert DATASETS.get("digits") is DigitsSource
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        DATASETS.get("nope")
    assert json.dumps(natv2.list_supernets())
