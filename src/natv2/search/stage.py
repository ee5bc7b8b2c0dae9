"""The `search` stage: a run directory's supernet + data -> NAT / NATv2 search with online adaptation.

    config (RunConfig: run, data, search, search_stage) + run directory
      -> supernet (--supernet PATH, else the run's trained one; random init only for smoke tests)
      -> SupernetEvaluator (BN re-calibration + top-1 on the validation split)
      -> SupernetAdaptation (between iterations, spec §3.8)
      -> run_search(run_dir=...)   (journaled: running the same command again resumes)
      -> search/archive.json (final archive), search/supernet.{safetensors,json} (the adapted supernet)
      -> search/final_test.json (front and high-trade-off picks on the TEST split, for the report)

`SearchStageConfig` (config section `search_stage`) holds what the stage adds to `SearchConfig`
(section `search`). Module-level imports stay torch-free so the config layer can import this file.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from natv2.config import FieldError
from natv2.errors import ConfigError, RunDirError
from natv2.io.artifacts import REL_CHECKPOINT_STATE, REL_FINAL_TEST, REL_TRAINED_SUPERNET, Layout, search_files, stamp
from natv2.supernets.checkpoint import TrainedSupernet
from natv2.search.config import SearchConfig
from natv2.stage import Outcome, StageContext
from natv2.space import SearchSpace, SubnetConfig
from natv2.train.adapt import AdaptConfig

STAGE = "search"
SPACE_DIMS = ("ks", "e", "d", "r", "w", "nd", "nw")


@dataclass(frozen=True)
class LatencyOptions:
    """Measurement settings of the `latency` objective (each extracted subnet is timed on this machine)."""

    threads: int = field(default=1, metadata={"help": "torch threads while timing (1: the usual edge setting)"})
    batch_size: int = field(default=1, metadata={"help": "images per timed forward"})
    warmup: int = field(default=10, metadata={"help": "untimed passes first"})
    runs: int = field(default=50, metadata={"help": "timed passes; the objective is their median"})

    def __post_init__(self) -> None:
        for name in ("threads", "batch_size", "runs"):
            if int(getattr(self, name)) < 1:
                raise FieldError(name, getattr(self, name), "an integer >= 1")
        if self.warmup < 0:
            raise FieldError("warmup", self.warmup, "an integer >= 0")


@dataclass(frozen=True)
class SearchStageConfig:
    """What the `search` stage needs besides the search loop's own switches (section `search`)."""

    supernet: str | None = field(default=None, metadata={"help": (
        "natv2 supernet checkpoint (stem or .safetensors of save_supernet); null: the run's trained supernet")})
    random_init: str | None = field(default=None, metadata={"help": (
        "SMOKE TESTS ONLY: search a registered supernet with random weights (e.g. ofa_mbv3) instead of a trained one")})
    width_mult: float = field(default=1.0, metadata={"help": "width multiplier of random_init"})
    space: dict[str, Any] = field(default_factory=dict, metadata={"help": (
        "narrow the supernet's space for the search, e.g. {r: [32], d: [2, 3]} (values must be in the supernet's space)")})
    eval_batch_size: int = field(default=500, metadata={"help": "images per forward when evaluating subnets"})
    fast_eval: bool = field(default=True, metadata={"help": (
        "cached inputs + cached head outputs + folded BN (exact); false: the plain extract/recalibrate/evaluate path")})
    cache_mb: float = field(default=4096.0, metadata={"help": "memory for cached evaluation tensors (larger splits stream)"})
    val_images: int | None = field(default=None, metadata={"help": (
        "rank subnets on a class-stratified subset of this many validation images: cheaper, noisier "
        "(bench/fidelity.py measures speed and rank agreement); null: the whole validation split")})
    final_test: bool = field(default=True, metadata={"help": (
        f"evaluate the final non-dominated set and high-trade-off picks on the test split ({REL_FINAL_TEST})")})
    adapt: AdaptConfig = field(default_factory=AdaptConfig, metadata={"help": "supernet adaptation between iterations"})
    latency_table: str | None = field(default=None, metadata={"help": (
        "latency look-up table (JSON/YAML of natv2.measure.LatencyTable) for the 'lut_latency' objective")})
    latency: LatencyOptions = field(default_factory=LatencyOptions, metadata={"help": (
        "how the measured 'latency' objective times each subnet")})

    def __post_init__(self) -> None:
        if self.eval_batch_size < 1:
            raise FieldError("eval_batch_size", self.eval_batch_size, "an integer >= 1")
        if self.cache_mb < 0:
            raise FieldError("cache_mb", self.cache_mb, "a number >= 0")
        if self.val_images is not None and (isinstance(self.val_images, bool) or int(self.val_images) < 1):
            raise FieldError("val_images", self.val_images, "an image count >= 1, or null for the whole validation split")
        unknown = sorted(set(self.space) - set(SPACE_DIMS))
        if unknown:
            raise FieldError("space", dict(self.space), f"keys among {list(SPACE_DIMS)} (unknown: {unknown})")


# ----------------------------------------------------------------------------- settings
def resolve_search_config(search: SearchConfig, seed: int) -> SearchConfig:
    """The complete config of the stage's search, resolved once: the section's own values, and for the
    fields it leaves null (the policy-decided ones) the policy's preset. So `search.policy: nat` alone
    gives NAT's settings, whatever a preset says about budgets. The seed: `search.seed` when set, else `seed`
    (the run's)."""
    from natv2.search.loop import complete_config

    return complete_config(search if search.seed is not None else search.replace(seed=seed))


def narrowed_space_dict(supernet_space: SearchSpace, narrow: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """`supernet_space.to_dict()` with the dimensions of `narrow` (search_stage.space) replaced; every
    value must lie in the supernet's space (ConfigError naming the key, the values allowed and `source`)."""
    data = supernet_space.to_dict()
    of = f" of {source}" if source else ""
    for dim, values in narrow.items():
        vals = [values] if isinstance(values, (int, float)) else list(values)
        allowed = data.get(dim)
        if allowed is None:
            raise ConfigError(f"search_stage.space sets '{dim}', which the supernet{of} does not have",
                              f"drop '{dim}' from search_stage.space")
        bad = [v for v in vals if v not in allowed]
        if bad or not vals:
            raise ConfigError(f"search_stage.space.{dim}={vals} is not within the supernet's {dim} {allowed}{of}",
                              f"choose {dim} values from {allowed}: --set search_stage.space.{dim}={allowed}")
        data[dim] = vals
    return data


def search_space(supernet_space: SearchSpace, narrow: Mapping[str, Any], arch: str, n_classes: int) -> SearchSpace:
    """The supernet's space narrowed by `narrow`, with the cost-model family and class count attached."""
    data = narrowed_space_dict(supernet_space, narrow)
    return SearchSpace.from_dict({**data, "arch": arch, "n_classes": int(n_classes)})


# ----------------------------------------------------------------------------- supernet
def _from_training_checkpoint(train: Any, root: Path, n_classes: int, image_size: int | None):
    """The supernet of an unfinished train-supernet run: built from the run's `train` section (a transfer's
    from its source, at the data's `image_size`), weights from the latest checkpoint in <run>/checkpoints."""
    from natv2.train.build import build_supernet
    from natv2.train.checkpoint import CheckpointStore
    from natv2.train.state import TrainState

    store = CheckpointStore(root)
    state = TrainState.from_dict(store.read_state(), str(store.state_path))
    net = build_supernet(train, n_classes, image_size=image_size)
    store.load_model(net)
    return net, f"{root / str(store.files().model_file)} ({state.describe()})"


def _transferred_without_warmup(train: Any, run_path: Path, n_classes: int, image_size: int | None,
                                class_names: Sequence[str] | None, seed: int):
    """`natv2 search --source` on a run without a trained supernet: the source with new heads, recorded in
    the run directory as a transfer with no warm-up (train.recipe none)."""
    import torch

    from natv2.supernets.source import check_same_source, write_source_record
    from natv2.train.build import build_supernet, resolve_checked_source

    source = resolve_checked_source(train)
    check_same_source(run_path, source)
    torch.manual_seed(seed)  # the same new heads on every rank and every attempt (resume)
    net = build_supernet(train, n_classes, image_size=image_size, class_names=class_names, source=source)
    write_source_record(run_path, source, {"n_classes": n_classes, "image_size": image_size, "space": net.space.to_dict(),
                                           "recipe": "none", "new_heads": not source.keeps_heads(n_classes, class_names)})
    return net, str(source.weights)


def resolve_supernet(stage: SearchStageConfig, run_path: Path, n_classes: int, log: Callable[[str], None], seed: int = 0,
                     train: Any = None, image_size: int | None = None, class_names: Sequence[str] | None = None):
    """(supernet, description): the checkpoint named by `stage.supernet`, the run's trained supernet
    (train/supernet; else the latest checkpoint of an unfinished training, built from `train`; else, with
    `train.source`, the source with new heads), or (smoke tests only) a randomly initialised one. The class
    count must match the data's."""
    from natv2.supernets import create, load_supernet

    if stage.supernet:
        given = TrainedSupernet.given(stage.supernet, run_path,
                                      f"pass the stem written by natv2 train-supernet (e.g. RUN/{REL_TRAINED_SUPERNET})")
        net, source = given.load(), str(given.stem)
    elif stage.random_init:
        msg = (f"WARNING: searching supernet '{stage.random_init}' with RANDOM weights (search_stage.random_init): "
               "accuracies are meaningless; use this only for smoke tests")
        log(msg)
        import torch

        torch.manual_seed(seed)  # the same weights on every rank and every attempt (resume)
        net = create(stage.random_init, n_classes, stage.width_mult, **dict(stage.space))
        source = f"random init of {stage.random_init}"
    else:
        lay = Layout(run_path)
        found = TrainedSupernet.find(run_path, adapted=False)
        if found is not None:
            net, source = found.load(), str(found.stem)
        elif train is not None and lay.checkpoint_state.is_file():
            net, source = _from_training_checkpoint(train, lay.checkpoints, n_classes, image_size)
            log(f"note: train-supernet has not finished; searching the latest training checkpoint ({source})")
        elif train is not None and train.source:
            net, source = _transferred_without_warmup(train, run_path, n_classes, image_size, class_names, seed)
            log(f"note: searching the source {source} with new heads and no warm-up (NAT's transfer: the search's "
                "adaptation alone trains it on this dataset)")
        else:
            raise RunDirError(f"run directory '{run_path}' holds no trained supernet (looked for "
                              f"{TrainedSupernet.looked_for(adapted=False)} and {REL_CHECKPOINT_STATE})",
                              "train one first (natv2 train-supernet), or pass --supernet PATH")
    if int(net.n_classes) != int(n_classes):
        raise ConfigError(f"supernet {source} has {net.n_classes} classes, the data {n_classes}",
                          "transfer it to this dataset instead (natv2 search --source PATH, or natv2 run --preset "
                          "transfer --source PATH with a warm-up), or train one here (natv2 train-supernet)")
    return net, source


def _supernet_args(stage: SearchStageConfig, source: str) -> str:
    """The `natv2 search` option that searches the same supernet from another run directory."""
    if stage.random_init:
        return f"--random-init {stage.random_init}"
    return f"--supernet {source}" if TrainedSupernet.is_checkpoint(source) else ""


# ----------------------------------------------------------------------------- progress
class SearchProgress:
    """Concise progress lines from the search's own files (the loop itself prints nothing).

    Wraps the evaluator: at each call it reports iterations that `history.json` gained since the last
    look, and every `every_s` seconds the evaluation rate. `finish()` reports what is left.
    """

    def __init__(self, history: Path, iterations: int, log: Callable[[str], None],
                 on_iteration: Callable[[dict[str, Any]], None] | None = None, every_s: float = 30.0) -> None:
        self.path = history
        self.iterations, self.log, self.every_s = iterations, log, every_s
        self.on_iteration = on_iteration or (lambda stats: None)
        self.seen = -1
        self.t0 = self.t_last = time.perf_counter()
        self.n = 0

    def wrap(self, evaluate: Callable[[Sequence[SubnetConfig]], list[float]]) -> Callable[[Sequence[SubnetConfig]], list[float]]:
        def wrapped(cfgs: Sequence[SubnetConfig]) -> list[float]:
            self.poll()
            out = evaluate(cfgs)
            self.n += len(cfgs)
            now = time.perf_counter()
            if now - self.t_last >= self.every_s:
                self.t_last = now
                self.log(f"  evaluated {self.n} subnets in {now - self.t0:.0f} s ({60.0 * self.n / (now - self.t0):.1f} / min)")
            return out

        return wrapped

    def poll(self) -> None:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8")).get("iterations", [])
        except (OSError, ValueError):
            return
        for st in rows:
            if int(st["iteration"]) > self.seen:
                self.seen = int(st["iteration"])
                self.log(self.format(st))
                self.on_iteration(st)

    def format(self, st: dict[str, Any]) -> str:
        tau = (st.get("surrogate") or {}).get("kendall")
        t = st.get("timings", {})
        parts = [f"iter {st['iteration']:>3}/{self.iterations}", f"archive {st['n_archive']}", f"front {st['n_front']}",
                 f"HV {st['hv']:.4f}", f"tau {tau:.3f}" if tau is not None else "tau -", f"evals {st['n_evaluations']}",
                 f"{sum(float(v) for v in t.values()):.1f} s"]
        detail = ", ".join(f"{k} {float(v):.1f}" for k, v in t.items() if float(v) >= 0.05)
        return "  ".join(parts) + (f" ({detail})" if detail else "")

    def finish(self) -> None:
        self.poll()


# ----------------------------------------------------------------------------- the stage
@dataclass
class SearchStageResult:
    result: Any  # natv2.search.SearchResult
    supernet_source: str
    final_test: dict[str, Any] | None
    supernet_path: Path | None


def run_search_stage(config: Any, run_path: str | Path, *, dist: Any = None, log: Callable[[str], None] = print,
                     events: Callable[[str, dict[str, Any]], None] | None = None) -> SearchStageResult:
    """Run (or resume) the search of `config` (a RunConfig) in `run_path`; every rank calls it under torchrun."""
    from natv2.data import load_dataset
    from natv2.train.data import SplitsTrainingData
    from natv2.train.dist import DistContext

    dist = dist or DistContext()
    run_path = Path(run_path)
    events = events or (lambda kind, data: None)
    say = log if dist.is_main else (lambda msg: None)
    stage, search = config.search_stage, config.search
    seed = int(config.run.seed if search.seed is None else search.seed)

    splits = load_dataset(config.data)
    data = SplitsTrainingData(splits, config.data, seed=seed, device=dist.device)
    supernet, source = resolve_supernet(stage, run_path, data.n_classes, say, seed, config.train, min(splits.image_size),
                                        splits.classes)
    supernet = supernet.to(dist.device).eval()
    space = search_space(supernet.space, stage.space, supernet.name, data.n_classes)
    scfg = resolve_search_config(search, seed)
    n_val = len(splits.val)
    fidelity = ("" if stage.val_images is None or stage.val_images >= n_val
                else f", ranking on {stage.val_images} of {n_val} validation images (search_stage.val_images)")
    say(f"search: policy {scfg.policy}, objectives {list(scfg.objectives)}, supernet {source}, space r={list(space.r)}{fidelity}")
    events("start", {"policy": scfg.policy, "supernet": source, "objectives": list(scfg.objectives), "seed": seed})

    evaluator, adapter = _evaluator_and_adapter(stage, scfg, supernet, data, space, Layout(run_path), seed, dist, say)
    progress = SearchProgress(search_files(Layout(run_path).search).history, scfg.iterations, say,
                              on_iteration=lambda st: events("iteration", st) if dist.is_main else None)
    result = _search(stage, scfg, space, progress.wrap(evaluator), run_path, adapter, supernet, source)
    progress.finish()
    supernet_path = None
    if dist.is_main:
        supernet_path = _save_results(result, supernet, adapter, source, Layout(run_path), {
            "iterations": scfg.iterations, "seed": seed, "n_classes": data.n_classes, "dataset": config.data.name})
    dist.barrier()
    final = final_test(result, evaluator, run_path, dist.is_main) if stage.final_test else None
    events("end", {"n_front": len(result.front), "n_archive": len(result.archive)})
    return SearchStageResult(result, source, final, supernet_path)


def _evaluator_and_adapter(stage: SearchStageConfig, scfg: SearchConfig, supernet: Any, data: Any, space: SearchSpace,
                           lay: Layout, seed: int, dist: Any, say: Callable[[str], None]) -> tuple[Any, Any]:
    """The subnet evaluator, and the supernet's adaptation between iterations (None when it is off)."""
    from natv2.measure.accuracy import SupernetEvaluator
    from natv2.train.adapt import SupernetAdaptation

    speedups = {} if stage.fast_eval else {"cache_head": False, "fast_calibration": False, "fold_bn": False}
    evaluator = SupernetEvaluator(supernet, data, batch_size=stage.eval_batch_size, cache_mb=stage.cache_mb,
                                  max_images=stage.val_images, **speedups)
    if not (stage.adapt.enabled and stage.adapt.epochs > 0 and scfg.iterations > 0):
        return evaluator, None
    adapter = SupernetAdaptation(
        supernet, data, stage.adapt, lay.adapt_checkpoints, iterations=scfg.iterations,
        epochs_per_iteration=stage.adapt.epochs, resolutions=space.r, seed=seed, dist=dist,
        on_change=evaluator.invalidate, log=say)
    return evaluator, adapter


def _search(stage: SearchStageConfig, scfg: SearchConfig, space: SearchSpace, evaluate: Callable[..., Any],
            run_path: Path, adapter: Any, supernet: Any, source: str) -> Any:
    """The journaled search; a diverged adaptation names its own key and a command that works."""
    from natv2.search.loop import run_search
    from natv2.train.steps import TrainingDivergedError

    try:
        return run_search(space, evaluate, config=scfg, run_dir=run_path, adapter=adapter, supernet=supernet,
                          latency_table=stage.latency_table, latency_options=dataclasses.asdict(stage.latency))
    except TrainingDivergedError as err:
        from natv2.train.adapt import AdaptConfig
        from natv2.train.divergence import adaptation_fix

        raise adaptation_fix(err, run_path, stage.adapt.lr, AdaptConfig().lr, _supernet_args(stage, source)) from None


def _save_results(result: Any, supernet: Any, adapter: Any, source: str, lay: Layout, meta: dict[str, Any]) -> Path:
    """The final archive and the (adapted) supernet, which shares its file with the last adaptation checkpoint."""
    from natv2.io import atomic_write_json
    from natv2.search.archive import entries_to_json
    from natv2.supernets import save_supernet

    atomic_write_json(search_files(lay.search).final_archive,
                      entries_to_json(result.archive, list(result.objectives), **stamp({})))
    supernet.set_max_net()
    weights_file, _ = save_supernet(supernet, lay.adapted_supernet, {"source": source, "adapted": adapter is not None, **meta})
    if adapter is not None:
        adapter.share_weights_with(weights_file)
    return lay.adapted_supernet


def final_test(result: Any, evaluator: Any, run_path: Path, main: bool) -> dict[str, Any] | None:
    """Test-split accuracy of the final non-dominated set and the high-trade-off picks (once; kept on resume)."""
    from natv2.io import atomic_write_json, read_json
    from natv2.search.distributed import ShardedEvaluate

    names = list(result.objectives)
    picks = {e.config for e in result.high_tradeoff}
    front = {e.config for e in result.front}
    entries, seen = [], set()
    for e in [*result.front, *result.high_tradeoff]:
        if e.config not in seen:
            seen.add(e.config)
            entries.append(e)
    path = search_files(Layout(run_path).search).final_test
    keys = [e.config.key for e in entries]
    if path.exists():
        old = read_json(path)
        if [x["key"] for x in old.get("entries", [])] == keys:
            return old
    splits = getattr(evaluator.data, "splits", None)
    if not entries or (splits is not None and len(splits.test) == 0):
        return None  # nothing to test, or the dataset has no test split
    accs = ShardedEvaluate(lambda cfgs: evaluator.evaluate(cfgs, split="test"))([e.config for e in entries])
    doc = {"split": "test", "objectives": names, "entries": [
        {"key": k, "name": e.config.file_stem(), "config": e.config.to_dict(), "objectives": e.objectives(names),
         "val_acc": float(e.acc), "test_acc": float(a), "in_front": e.config in front, "high_tradeoff": e.config in picks}
        for k, e, a in zip(keys, entries, accs)]}
    if main:
        atomic_write_json(path, doc)
    return doc


def format_final(doc: dict[str, Any] | None) -> list[str]:
    """A short table of the final subnets (validation and test top-1)."""
    if not doc:
        return []
    names = [n for n in doc["objectives"] if n != "err"]
    lines = [f"{'subnet':<28} {'val %':>7} {'test %':>7} " + " ".join(f"{n:>12}" for n in names) + "  pick"]
    for e in sorted(doc["entries"], key=lambda x: -x["val_acc"]):
        lines.append(f"{e['name'][:28]:<28} {100 * e['val_acc']:7.2f} {100 * e['test_acc']:7.2f} "
                     + " ".join(f"{e['objectives'][n]:12.4g}" for n in names) + ("  *" if e["high_tradeoff"] else ""))
    return lines


def run(ctx: StageContext) -> Outcome[SearchStageResult]:
    """The `search` stage (natv2.stage's contract): run or resume the search, print the final subnets."""
    out = run_search_stage(ctx.config, ctx.run_path, dist=ctx.dist, log=ctx.log, events=ctx.events(STAGE))
    res = out.result
    table = format_final(out.final_test)
    if table:
        ctx.log("final subnets (* = high-trade-off pick):\n" + "\n".join(table))
    line = (f"archive {len(res.archive)}, non-dominated {len(res.front)}, picks {len(res.high_tradeoff)}, "
            f"final HV {res.final_hv:.4f}" if res.stats else f"archive {len(res.archive)}")
    return Outcome(line, {"n_archive": len(res.archive), "n_front": len(res.front)}, out)
