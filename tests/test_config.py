"""Typed configs: clear refusals (key, value, origin, what is allowed), overrides, YAML round-trip, presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from natv2.config import (
    FieldError,
    diff,
    list_presets,
    load_config,
    load_preset,
    parse_override,
    preset_names,
    schema_keys,
    to_dict,
    to_yaml,
    volatile_keys,
)
from natv2.errors import ConfigError
from natv2.pipeline.config import DEFAULT_PRESET, RunConfig, resolve_config


@dataclass(frozen=True)
class Inner:
    depth: int = 2
    kernel: Literal[3, 5, 7] = 3
    widths: tuple[float, ...] = (1.0,)


@dataclass(frozen=True)
class Model:
    name: Literal["small", "large"] = "small"
    inner: Inner = field(default_factory=Inner)
    resolutions: list[int] = field(default_factory=lambda: [32])
    pair: tuple[int, str] = (1, "a")
    lr: float = 0.1
    size: float | int = 5000
    out: str | None = None
    path: Path = Path("runs")
    tags: dict[str, int] = field(default_factory=dict)
    verbose: bool = field(default=False, metadata={"volatile": True, "help": "chatty"})

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise FieldError("lr", self.lr, "a number > 0")


@dataclass(frozen=True)
class Root:
    model: Model = field(default_factory=Model)
    seed: int = 0


@dataclass
class NeedsValue:
    required: int
    other: int = 1


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------- refusals
def test_typo_names_key_value_suggestion_and_allowed_keys():
    msg = _error(load_config, Root, {"model": {"nmae": "large"}})
    assert "'model.nmae'" in msg and '"large"' in msg
    assert "did you mean 'model.name'" in msg
    for key in ("name", "inner", "resolutions", "lr"):  # the keys allowed at that level
        assert key in msg.split("fix:")[1]


def test_typo_in_override_names_the_override():
    msg = _error(load_config, Root, None, ["model.inner.dpth=3"])
    assert "'model.inner.dpth'" in msg and "--set model.inner.dpth=3" in msg
    assert "did you mean 'model.inner.depth'" in msg


def test_unknown_top_level_key():
    msg = _error(load_config, Root, {"sed": 1})
    assert "'sed'" in msg and "did you mean 'seed'" in msg and "top level" in msg


@pytest.mark.parametrize(
    "override, key, expected",
    [
        ("seed=abc", "seed", "an integer"),
        ("seed=1.5", "seed", "an integer"),
        ("seed=true", "seed", "an integer"),
        ("model.verbose=maybe", "model.verbose", "true or false"),
        ("model.lr=fast", "model.lr", "a number"),
        ("model.resolutions=32", "model.resolutions", "a list"),
        ("model.out=[1]", "model.out", "a string or null"),
        ("model.pair=[1]", "model.pair", "a list of 2 items"),
        ("model.inner=5", "model.inner", "a section"),
        ("model.tags={a: x}", "model.tags.a", "an integer"),
    ],
)
def test_wrong_type_names_key_value_and_expected_type(override, key, expected):
    msg = _error(load_config, Root, None, [override])
    assert f"'{key}'" in msg and expected in msg
    assert "wrong type" in msg


def test_list_item_error_names_the_index():
    msg = _error(load_config, Root, None, ["model.resolutions=[32,big]"])
    assert "'model.resolutions[1]'" in msg and '"big"' in msg and "an integer" in msg


def test_literal_lists_allowed_values_and_closest():
    msg = _error(load_config, Root, None, ["model.name=lage"])
    assert "'model.name'" in msg and '"lage"' in msg
    assert '"small", "large"' in msg and 'did you mean "large"' in msg
    msg = _error(load_config, Root, None, ["model.inner.kernel=4"])
    assert "'model.inner.kernel'" in msg and "3, 5, 7" in msg


def test_a_string_key_set_on_the_command_line_takes_the_text_as_typed():
    """YAML reads 2024, 0123, 1e5 and yes as numbers or booleans; for a key that takes a string (a folder,
    a checksum) `--set` means the text. Keys of other types are unchanged."""
    for text in ("2024", "0123", "1e5", "yes", "00000000000000000000000000000000"):
        assert load_config(Root, None, [f"model.out={text}"]).model.out == text
    assert load_config(Root, None, ["model.path=2024"]).model.path == Path("2024")
    assert load_config(Root, None, ["seed=7"]).seed == 7 and load_config(Root, None, ["model.lr=1e-3"]).model.lr == 1e-3
    assert "not an allowed value" in _error(load_config, Root, None, ["model.name=1"])


def test_a_number_or_boolean_for_a_string_key_in_a_file_suggests_quotes(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("model:\n  out: yes\n")
    msg = _error(load_config, Root, conf)
    assert "boolean" in msg and "quotes" in msg
    conf.write_text("model:\n  out: 2024\n")
    msg = _error(load_config, Root, conf)
    assert "as a number" in msg and 'quotes, e.g. "2024"' in msg


def test_null_refused_where_not_optional():
    msg = _error(load_config, Root, None, ["seed=null"])
    assert "'seed'" in msg and "null is not allowed" in msg


def test_range_check_in_post_init_gets_full_key_and_origin():
    msg = _error(load_config, Root, None, ["model.lr=-1"])
    assert "'model.lr'" in msg and "-1" in msg and "a number > 0" in msg and "--set model.lr=-1" in msg


def test_required_key_missing():
    msg = _error(load_config, NeedsValue, {"other": 2})
    assert "'required'" in msg and "required" in msg
    assert load_config(NeedsValue, {"required": 4}).required == 4


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  name: large\n  lr: [\n")
    msg = _error(load_config, Root, bad)
    assert "bad.yaml" in msg and "line" in msg
    dup = tmp_path / "dup.yaml"
    dup.write_text("seed: 1\nseed: 2\n")
    assert "duplicate key" in _error(load_config, Root, dup)
    typo = tmp_path / "typo.yaml"
    typo.write_text("model:\n  nme: large\n")
    msg = _error(load_config, Root, typo)
    assert "model.nme" in msg and str(typo) in msg
    assert "does not exist" in _error(load_config, Root, tmp_path / "missing.yaml")
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    assert "mapping" in _error(load_config, Root, lst)


def test_bad_override_syntax():
    assert "KEY=VALUE" in _error(parse_override, "model.lr")
    assert "KEY=VALUE" in _error(parse_override, "model..lr=1")
    assert "cannot read YAML" in _error(parse_override, "model.resolutions=[32,40")


# ---------------------------------------------------------------------- accepted values
def test_overrides_apply_in_order_and_parse_yaml_scalars():
    cfg = load_config(Root, {"seed": 1, "model": {"lr": 0.5}},
                      ["seed=2", "model.resolutions=[32,40]", "model.inner.widths=[0.5,1]",
                       "model.pair=[3,b]", "seed=7", "model.out=runs/x", "model.tags={a: 1}"])
    assert cfg.seed == 7 and cfg.model.lr == 0.5
    assert cfg.model.resolutions == [32, 40]
    assert cfg.model.inner.widths == (0.5, 1.0) and all(isinstance(w, float) for w in cfg.model.inner.widths)
    assert cfg.model.pair == (3, "b") and cfg.model.out == "runs/x" and cfg.model.tags == {"a": 1}


def test_union_keeps_int_and_float_apart_and_reads_exponents(tmp_path):
    assert load_config(Root, None, ["model.size=5000"]).model.size == 5000
    assert isinstance(load_config(Root, None, ["model.size=5000"]).model.size, int)
    assert load_config(Root, None, ["model.size=0.1"]).model.size == 0.1
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  lr: 1e-3\n")  # YAML 1.1 reads this as a string
    assert load_config(Root, f).model.lr == pytest.approx(1e-3)


def test_int_accepted_for_float_and_dates_stay_strings():
    cfg = load_config(Root, None, ["model.lr=2", "model.out=2024-01-31"])
    assert cfg.model.lr == 2.0 and isinstance(cfg.model.lr, float)
    assert cfg.model.out == "2024-01-31"


def test_empty_section_means_defaults():
    assert load_config(Root, {"model": None}) == Root()


def test_extends_chains_presets_and_files(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("extends: quickstart\nrun:\n  seed: 5\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\ndescription: mine\ndata:\n  batch_size: 32\n")
    cfg = resolve_config(config_file=child)
    quick = resolve_config(preset="quickstart")
    assert cfg.run.seed == 5 and cfg.data.batch_size == 32
    assert cfg.data.train_subset == quick.data.train_subset  # inherited from the preset
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    assert "cycle" in _error(resolve_config, config_file=loop)


# ---------------------------------------------------------------------- round trip
def test_yaml_round_trip_is_exact():
    cfg = load_config(Root, None, ["seed=3", "model.name=large", "model.resolutions=[32,40,48]",
                                   "model.inner.widths=[0.75,1.0]", "model.size=0.25", "model.out=x",
                                   "model.tags={b: 2, a: 1}", "model.verbose=true", "model.pair=[9,z]"])
    text = to_yaml(cfg, header="test")
    assert text.startswith("# test\n")
    back = load_config(Root, yaml.safe_load(text))
    assert back == cfg and to_dict(back) == to_dict(cfg)
    assert isinstance(back.model.inner.widths, tuple)


def test_run_config_round_trips_through_a_file(tmp_path):
    cfg = resolve_config(preset="cifar10", overrides=["run.seed=11", "data.val_size=0.2", "data.root=/x"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(cfg))
    assert load_config(RunConfig, path) == cfg
    assert resolve_config(config_file=path) == cfg  # a run is reproducible from that file alone


# ---------------------------------------------------------------------- presets
def test_all_presets_load_and_round_trip(tmp_path):
    from natv2.supernets import create, save_supernet
    from natv2.train.config import TRANSFER_RECIPES

    names = preset_names()
    assert {"quickstart", "cifar10", "tiny-imagenet", "tiny-imagenet-cpu", "transfer", "transfer-smoke"} <= set(names)
    assert DEFAULT_PRESET in names
    save_supernet(create("ofav2_ee_d", 5, r=[16, 32]), tmp_path / "source")  # what the transfer presets start from
    for info in list_presets():
        assert info.description, info.name
        needs_source = load_preset(info.name).get("train", {}).get("recipe") in TRANSFER_RECIPES
        if needs_source:
            with pytest.raises(ConfigError, match="no source is given"):
                resolve_config(preset=info.name)
        cfg = resolve_config(preset=info.name, values={"train.source": str(tmp_path / "source")} if needs_source else None)
        assert load_config(RunConfig, yaml.safe_load(to_yaml(cfg))) == cfg
    assert resolve_config(preset="tiny-imagenet").data.name == "tiny-imagenet"
    assert resolve_config(preset="cifar10").data.name == "cifar10"
    assert "extends" not in load_preset("quickstart") and "description" not in load_preset("quickstart")


def test_default_preset_applies_only_without_a_config_file(tmp_path):
    assert resolve_config() == resolve_config(preset=DEFAULT_PRESET)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert resolve_config(config_file=empty) == RunConfig()


def test_unknown_preset_lists_presets():
    msg = _error(resolve_config, preset="cifar")
    assert "unknown preset 'cifar'" in msg and "did you mean 'cifar10'" in msg
    for name in ("quickstart", "cifar10", "tiny-imagenet"):
        assert name in msg


# ---------------------------------------------------------------------- schema helpers
def test_diff_volatile_and_schema_keys():
    a, b = Root(), load_config(Root, None, ["seed=1", "model.verbose=true"])
    assert {c.key for c in diff(a, b)} == {"seed", "model.verbose"}
    assert volatile_keys(Root) == {"model.verbose"}
    assert [c.key for c in diff(a, b, ignore=volatile_keys(Root))] == ["seed"]
    keys = {k.key: k for k in schema_keys(Root)}
    assert keys["model.inner.depth"].default == 2 and keys["model.verbose"].help == "chatty"
    assert {k.key for k in schema_keys(RunConfig)} >= {"run.seed", "data.name", "data.batch_size"}


def test_every_key_of_every_section_has_help_text():
    """`natv2 config keys` documents every setting (one style: field metadata, natv2.config.fields)."""
    keys = schema_keys(RunConfig)
    sections = {k.key.split(".")[0] for k in keys}
    assert {"run", "data", "train", "search", "search_stage", "finetune", "export"} <= sections
    assert [k.key for k in keys if not k.help.strip()] == []


def test_moved_adaptation_epochs_still_load_from_old_files_and_overrides(tmp_path):
    """`search.adaptation_epochs` moved to `search_stage.adapt.epochs` (every adaptation setting in one section):
    a run directory's saved config and a `--set` with the old key keep working, the value under its new name;
    within one file the new key wins over the old one; between overrides the later one wins, as for any key."""
    from natv2.pipeline.config import resolve_config

    saved = tmp_path / "config.yaml"
    saved.write_text("extends: smoke\nsearch:\n  adaptation_epochs: 3\nsearch_stage:\n  adapt:\n    lr: 0.01\n")
    cfg = resolve_config(config_file=saved)
    assert cfg.search_stage.adapt.epochs == 3 and cfg.search_stage.adapt.lr == 0.01
    assert not hasattr(cfg.search, "adaptation_epochs")
    assert resolve_config(preset="smoke", overrides=["search.adaptation_epochs=0"]).search_stage.adapt.epochs == 0
    both = resolve_config(preset="smoke", overrides=["search.adaptation_epochs=2", "search_stage.adapt.epochs=4"])
    assert both.search_stage.adapt.epochs == 4
