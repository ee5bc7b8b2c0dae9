"""Checks of a whole `RunConfig` that no single section can make on its own, run when the config is
resolved (so `natv2 config show` refuses what `natv2 run` would refuse, and before any stage starts):

- `data`: sizes and ranges (a batch of 0 images would fail an hour later), a registered dataset name;
- `train`: a registered supernet, and its space overrides fit its structure; a transfer source
  (`train.source`) exists, is a supernet, and has the family, width and structure the section names;
- `train`: phase names in `phase_overrides` and `only_phases` (natv2.train.recipes' check);
- `search`: registered objectives; `lut_latency` with a readable table (`search_stage.latency_table`)
  that has an entry for every layer of the search's space; the surrogate and its parameters;
- `search_stage`: `space` lies within the space of the supernet the search will use (a given
  checkpoint's, a random-init supernet's, or the one `train` describes).

Where a stage checks the same thing, both call one function (the stage's own), so the two cannot drift
apart; tests/test_stage_start_errors.py walks every error a stage can raise at its start and says which
check here refuses it first, or why only the running stage can know (docs/reliability.md).

Each failure is a ConfigError naming the dotted key, the value, what is allowed and a `--set` that works.
Files a later stage reads are checked when they exist (a missing one is the stage's own error).
"""

from __future__ import annotations

from typing import Any, Callable

from natv2.errors import ConfigError, NatError
from natv2.io.artifacts import REL_TRAINED_SUPERNET
from natv2.train.config import TRANSFER_RECIPES


def _refuse(key: str, value: Any, allowed: str, example: str) -> ConfigError:
    return ConfigError(f"config key '{key}' = {value!r} is not allowed: it must be {allowed}.",
                       f"set it, e.g. --set {key}={example}")


def check_data(data: Any) -> None:
    """Ranges of the `data` section and its dataset name."""
    for name in ("batch_size", "eval_batch_size", "calib_size", "calib_batch_size", "decode_workers"):
        value = getattr(data, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _refuse(f"data.{name}", value, "an integer >= 1", {"decode_workers": "2"}.get(name, "64"))
    for name in ("train_subset", "image_size"):
        value = getattr(data, name)
        if value is not None and value < 1:
            raise _refuse(f"data.{name}", value, "an integer >= 1, or null", "null")
    val = data.val_size
    if isinstance(val, bool) or (isinstance(val, float) and not val.is_integer() and not 0 < val < 1) or val < 0:
        raise _refuse("data.val_size", val, "an image count >= 0 or a fraction in (0, 1)", "0.1")
    if data.pad < 0:
        raise _refuse("data.pad", data.pad, "an integer >= 0", "4")
    for name in ("crop_scale_min", "eval_crop_ratio"):
        value = getattr(data, name)
        if not 0 < value <= 1:
            raise _refuse(f"data.{name}", value, "a number in (0, 1]", {"crop_scale_min": "0.35"}.get(name, "0.875"))
    from natv2.data.registry import dataset_names

    names = dataset_names()
    if data.name not in names:
        raise ConfigError(f"config key 'data.name' = {data.name!r} is not a known dataset; known: {', '.join(names)}",
                          "set one of those (natv2 datasets shows which are available here), e.g. --set data.name=cifar10")


def _supernet_variant(key: str, name: str) -> Any:
    from natv2.supernets.registry import get_variant, list_supernets

    try:
        return get_variant(name)
    except (KeyError, NatError):
        raise ConfigError(f"config key '{key}' = {name!r} is not a registered supernet; known: "
                          f"{', '.join(list_supernets())}", f"set one of those, e.g. --set {key}=ofav2_ee_d") from None


def _space_of(key: str, name: str, width_mult: float, overrides: dict[str, Any]) -> Any:
    from natv2.supernets.registry import resolve_space

    variant = _supernet_variant(key, name)
    try:
        return resolve_space(variant, width_mult, None, overrides)
    except NatError as err:
        raise ConfigError(f"the space of '{key}' = {name!r} does not fit: {err.problem}", err.fix) from None


def _checkpoint_space(stage: Any, run_dir: str | None) -> tuple[Any, str, str] | None:
    """(space, family, description) of the saved supernet `search_stage.supernet`, or None when it is not there yet."""
    from natv2.supernets.checkpoint import TrainedSupernet
    from natv2.space import SearchSpace
    from natv2.supernets.checkpoint import SUPERNET_FORMAT, _read_json_object

    stem = TrainedSupernet.stem_of(stage.supernet, run_dir or None)
    config = stem.with_name(stem.name + ".json")
    if not config.is_file():
        return None
    fix = f"pass the stem of a supernet written by natv2 train-supernet (e.g. RUN/{REL_TRAINED_SUPERNET}) with --supernet"
    doc = _read_json_object(config, "supernet description", fix)
    arch = doc.get("arch")
    if doc.get("format") != SUPERNET_FORMAT or not isinstance(arch, dict) or not isinstance(arch.get("space"), dict):
        from natv2.errors import CheckpointError

        raise CheckpointError(f"{config} is not a natv2 supernet description (format={doc.get('format')!r}, "
                              f"expected {SUPERNET_FORMAT!r} with an 'arch' object holding the space)", fix)
    try:
        return SearchSpace.from_dict(arch["space"]), str(arch.get("name")), str(config)
    except (TypeError, ValueError, NatError) as err:
        from natv2.errors import CheckpointError

        raise CheckpointError(f"the space in {config} is malformed: {err}", fix) from None


def _checked_source(config: Any) -> Any:
    """The `Source` of `train.source`, resolved and checked against the `train` section (natv2.train.build, as
    the train stage does) when a stage will read it: training is still to come (not when `search_stage.supernet`
    replaces it, nor once the run directory holds its trained supernet). None otherwise."""
    if not config.train.source or not _trains_supernet(config):
        return None
    from natv2.train.build import resolve_checked_source

    return resolve_checked_source(config.train)


def _search_supernet(config: Any, train_space: Any, source: Any) -> tuple[Any, str, str] | None:
    """(space, family, description) of the supernet the search will use: a given checkpoint's, a random-init
    supernet's, the transfer source's or the one `train` describes; None while it is not known (a given
    checkpoint not written yet, a transfer run whose trained supernet is already there)."""
    from natv2.space import SearchSpace

    train, stage = config.train, config.search_stage
    if stage.supernet:
        return _checkpoint_space(stage, config.run.run_dir)
    if stage.random_init:
        space = _space_of("search_stage.random_init", stage.random_init, stage.width_mult, dict(stage.space))
        return space, stage.random_init, f"random-init {stage.random_init}"
    if train.source:
        if source is None:
            return None
        space = {**source.space, **{k: v for k, v in dict(train.space).items() if v is not None and k != "r"}}
        return SearchSpace.from_dict(space), source.supernet, f"the source {train.source}"
    return train_space, train.supernet, f"train.supernet {train.supernet} (with train.space)"


def check_supernets(config: Any) -> Any:
    """train.supernet and its space; the transfer source, when a stage will read it; search_stage.space within
    the supernet the search will use. Returns the search's space (its family as `arch`), or None where it is
    known only when the search starts (see `_search_supernet`; a transfer's resolutions follow from the data)."""
    from natv2.search.stage import narrowed_space_dict
    from natv2.space import SearchSpace

    train, stage = config.train, config.search_stage
    train_space = _space_of("train.supernet", train.supernet, train.width_mult, dict(train.space))
    found = _search_supernet(config, train_space, _checked_source(config))
    if found is None:
        return None
    space, family, where = found
    if train.source and not (stage.supernet or stage.random_init):
        # the target's resolutions follow from its image size (natv2.supernets.source); the search checks r
        narrowed_space_dict(space, {k: v for k, v in dict(stage.space).items() if k != "r"}, where)
        return None
    return SearchSpace.from_dict({**narrowed_space_dict(space, stage.space, where), "arch": family})


def _trained_here(config: Any) -> bool:
    """Whether the run directory already holds its trained supernet (its source is not read again)."""
    from natv2.io.artifacts import Layout

    run_dir = config.run.run_dir
    return bool(run_dir) and Layout(run_dir).trained_supernet.with_suffix(".json").is_file()


def _trains_supernet(config: Any) -> bool:
    """Whether a stage would still train: not when `search_stage.supernet` replaces training, nor after it."""
    return not (config.search_stage.supernet or _trained_here(config))


def check_transfer(config: Any) -> None:
    """A transfer recipe needs a source to start from, when training is still to come (a run that searches a
    given supernet, or fine-tunes after training, keeps the preset's recipe without naming the source)."""
    train = config.train
    recipe = train.resolved_recipe()
    if recipe in TRANSFER_RECIPES and not train.source and _trains_supernet(config):
        raise ConfigError(f"train.recipe '{recipe}' adapts a source supernet to this dataset, but no source is given",
                          "pass --source SOURCE (a natv2 run directory, supernet .safetensors or `ofa` .pth), "
                          "or train from scratch with --set train.recipe=auto")


def check_phase_names(train: Any) -> None:
    """`train.phase_overrides` and `train.only_phases` name phases some recipe has (a typo would otherwise
    be found when training starts, or, for a phase of another recipe, never): natv2.train.recipes'
    check, the one `build_phases` runs."""
    from natv2.train.recipes import check_phase_names as check_names

    check_names(train.resolved_recipe(), train.phase_overrides, train.only_phases)


def check_objectives(config: Any) -> Callable[[Any], float] | None:
    """Every search objective is registered; 'lut_latency' is built as the search builds it (natv2.search.
    objectives: its table set, readable and a natv2 table). Returns that cost function, None without it."""
    from natv2.search.objectives import OBJECTIVES, ObjectiveContext
    from natv2.space import SearchSpace

    known = OBJECTIVES.names()
    bad = [o for o in config.search.objectives if o not in known]
    if bad:
        raise ConfigError(f"config key 'search.objectives' names {bad}, which natv2 does not know; known: {', '.join(known)}",
                          "set e.g. --set 'search.objectives=[err,params]'")
    if "lut_latency" not in config.search.objectives:
        return None
    context = ObjectiveContext(SearchSpace(), latency_table=config.search_stage.latency_table)
    return OBJECTIVES.build("lut_latency", context).fn


def check_latency_table(lut: Callable[[Any], float] | None, space: Any, path: str | None) -> None:
    """The latency table `path` has an entry for every layer a subnet of the search's `space` can hold, asked
    as the search asks it (`lut`, from `check_objectives`); nothing to check without either."""
    if lut is None or space is None:
        return
    from natv2.measure.lut import covering_configs

    try:
        for cfg in covering_configs(space.arch, space):
            lut(cfg)
    except ConfigError as err:
        raise ConfigError(f"search_stage.latency_table {path} does not cover the search's space: {err.problem}",
                          f"{err.fix}, or narrow search_stage.space to what the table covers") from None


def check_surrogate(config: Any) -> None:
    """The surrogate the search will fit (the policy's, unless search.surrogate names one) exists and takes
    search.surrogate_params: building it, unfitted, is cheap; an unknown name or parameter is a ConfigError."""
    from natv2.predictors import create
    from natv2.search.stage import resolve_search_config

    search = resolve_search_config(config.search, int(config.run.seed))
    if search.surrogate is not None:
        create(search.surrogate, **dict(search.surrogate_params))


def validate_run_config(config: Any) -> Any:
    """Every cross-section check above; returns `config` unchanged."""
    check_data(config.data)
    check_transfer(config)
    check_phase_names(config.train)
    lut = check_objectives(config)
    check_surrogate(config)
    space = check_supernets(config)
    check_latency_table(lut, space, config.search_stage.latency_table)
    return config
