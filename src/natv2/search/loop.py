"""The NAT / NATv2 search loop (spec §3.4, §4.4): `run_search`.

    initial archive (policy; NATv2: pre-processing)            -> evaluate
    for it in 1..iterations:
        fit surrogate on archive features -> predicted error
        EMO on [predicted err, exact costs]; drop archive duplicates; subset-select K   (or K random subnets)
        evaluate the K; archive update (unbounded / survival back to archive_size)
        top-N survival -> per-gene distributions -> adapter.adapt(sampler, it, epochs)
        if the adapter changed the weights: re-evaluate the whole archive
        hypervolume (fixed normalisation), surrogate out-of-sample metrics, timings -> run_dir

Every evaluation and decision is journaled (see `natv2.search.journal`); running the same call on the
same run_dir after a crash resumes without redoing or losing an evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from natv2.errors import ConfigError, RunDirError
from natv2.io import atomic_write_json, read_json
from natv2.io.artifacts import LOCK_FILE, Layout, search_files, stamp
from natv2.space import SearchSpace, SubnetConfig
from natv2.space.encoding import GeneEncoding
from natv2.space.sampling import GeneSampler, fit_distribution, get_init_policy, sample_unique
from natv2.search.adapter import SupernetAdapter
from natv2.search.archive import ArchiveEntry, entries_to_json, objective_matrix
from natv2.search.config import SearchConfig, make_config
from natv2.search.distributed import ShardedEvaluate, is_main_process
from natv2.search.emo import EmoSettings, SurrogateProblem, run_emo
from natv2.search.indicators import bounds_for, high_tradeoff, hypervolume, non_dominated, normalise
from natv2.search.journal import Journal
from natv2.search.objectives import Objective, ObjectiveContext, resolve_objectives
from natv2.search.subset import select_subset
from natv2.search.survival import survive

Evaluate = Callable[[Sequence[SubnetConfig]], Sequence[float]]
SPACE_EXTRAS = ("arch", "n_classes")
VOLATILE = ("eval_chunk",)  # settings that may change between a run and its resume
RESULT_FORMAT = 1


@dataclass
class SearchResult:
    """Final archive, its non-dominated front, the high-trade-off picks and per-iteration stats."""

    archive: list[ArchiveEntry]
    front: list[ArchiveEntry]
    high_tradeoff: list[ArchiveEntry]
    stats: list[dict[str, Any]]
    config: SearchConfig
    objectives: tuple[str, ...]

    def objective_matrix(self, which: str = "archive") -> np.ndarray:
        return objective_matrix(getattr(self, which), len(self.objectives))

    @property
    def final_hv(self) -> float | None:
        """The hypervolume of the final archive (its last iteration's statistics); None before any iteration."""
        return float(self.stats[-1]["hv"]) if self.stats else None


def as_space(space: SearchSpace | Mapping[str, Any] | None) -> SearchSpace:
    """A SearchSpace from a SearchSpace or a plain dict of allowed values (OFA MobileNetV3 by default)."""
    if space is None:
        return SearchSpace()
    if isinstance(space, SearchSpace):
        return space
    if not isinstance(space, Mapping):
        raise ConfigError(f"search space must be a SearchSpace or a dict, got {type(space).__name__}", "pass e.g. {'r': [32], 'w': [1.0]}")
    known = {"ks", "e", "d", "r", "w", "nd", "nw", *SPACE_EXTRAS}
    unknown = sorted(set(space) - known)
    if unknown:
        raise ConfigError(f"unknown search-space key(s) {unknown}", f"use only {sorted(known)}")
    return SearchSpace.from_dict(space)


def _timer(store: dict[str, float], name: str):
    @contextmanager
    def cm() -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            store[name] = store.get(name, 0.0) + time.perf_counter() - t0

    return cm()


class _Search:
    """State of one search run; `run()` executes (or resumes) it."""

    def __init__(
        self,
        space: SearchSpace,
        evaluate: Evaluate,
        objectives: list[Objective],
        config: SearchConfig,
        run_dir: str | Path | None,
        adapter: SupernetAdapter | None,
    ) -> None:
        self.space, self.cfg, self.adapter = space, config, adapter
        self.enc = GeneEncoding(space)
        self.objectives = objectives
        self.names = tuple(o.name for o in objectives)
        self.m = len(objectives)
        self._cost_fns = [o.fn for o in objectives[1:]]
        self._costs: dict[SubnetConfig, tuple[float, ...]] = {}
        self.bounds = bounds_for(self.names, config.hv_bounds)
        self.evaluate = ShardedEvaluate(evaluate)
        self.main = is_main_process()
        self.root = Layout(run_dir).search if run_dir is not None else None
        self.files = search_files(self.root) if self.root is not None else None
        self.journal = Journal(self.files.journal if self.files else None, writable=self.main)
        self.n_evals = 0
        self.stats: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- helpers
    def rng(self, iteration: int, step: str) -> np.random.Generator:
        """Random numbers for one step, from (seed, iteration, step) only: replay takes the same path."""
        return np.random.default_rng(np.random.SeedSequence([self.cfg.seed, iteration, zlib.crc32(step.encode())]))

    def seed_int(self, iteration: int, step: str) -> int:
        return int(self.rng(iteration, step).integers(2**31 - 1))

    def costs(self, cfg: SubnetConfig) -> tuple[float, ...]:
        hit = self._costs.get(cfg)
        if hit is None:
            hit = tuple(float(fn(cfg)) for fn in self._cost_fns)
            self._costs[cfg] = hit
        return hit

    def F(self, entries: Sequence[ArchiveEntry]) -> np.ndarray:
        return objective_matrix(entries, self.m)

    def _check_accs(self, accs: Sequence[float], n: int) -> list[float]:
        accs = list(accs)
        if len(accs) != n:
            raise ConfigError(f"evaluate returned {len(accs)} accuracies for {n} subnets", "return one accuracy per subnet, in order")
        out = [float(a) for a in accs]
        bad = [a for a in out if not (np.isfinite(a) and 0.0 <= a <= 1.0)]
        if bad:
            raise ConfigError(
                f"evaluate returned accuracies outside [0, 1], e.g. {bad[0]!r}",
                "return top-1 accuracy as a fraction (0.93, not 93)",
            )
        return out

    def eval(self, cfgs: Sequence[SubnetConfig], step: str, timings: dict[str, float], name: str = "evaluate") -> list[float]:
        """Accuracies of `cfgs` for `step`: from the journal if recorded, else evaluated in journaled chunks.
        Adds the seconds spent to `timings[name]`: measured now, plus what the journal says the recorded
        evaluations took when they ran (so a resumed run reports the time its evaluations really cost)."""
        t0 = time.perf_counter()
        pending = [c for c in cfgs if self.journal.evaluation(step, c) is None]
        todo = set(pending)
        replayed = sum(float(self.journal.evaluation(step, c).get("seconds", 0.0)) for c in cfgs if c not in todo)
        for start in range(0, len(pending), self.cfg.eval_chunk):
            chunk = pending[start : start + self.cfg.eval_chunk]
            t_chunk = time.perf_counter()
            accs = self._check_accs(self.evaluate(chunk), len(chunk))
            each = (time.perf_counter() - t_chunk) / len(chunk)
            self.journal.append(
                {"type": "eval", "step": step, "key": c.key, "config": c.to_dict(), "acc": a, "costs": list(self.costs(c)),
                 "seconds": round(each, 4)}
                for c, a in zip(chunk, accs)
            )
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0 + replayed
        out = []
        for c in cfgs:
            rec = self.journal.evaluation(step, c)
            self._costs.setdefault(c, tuple(float(v) for v in rec["costs"]))
            out.append(float(rec["acc"]))
        self.n_evals += len(cfgs)
        return out

    def entries(self, cfgs: Sequence[SubnetConfig], accs: Sequence[float], iteration: int) -> list[ArchiveEntry]:
        return [ArchiveEntry(c, a, self.costs(c), iteration, iteration) for c, a in zip(cfgs, accs)]

    def draw_fn(self, policy: str) -> Callable[[int, np.random.Generator], list[SubnetConfig]]:
        init = get_init_policy(policy)
        return lambda k, rng: init.draw(self.enc, k, rng, self.cfg.repair)

    # ----------------------------------------------------------------- run directory
    def _record(self) -> dict[str, Any]:
        search = {k: v for k, v in self.cfg.to_dict().items() if k not in VOLATILE}
        return json.loads(json.dumps({"format": RESULT_FORMAT, "search": search, "space": self.space.to_dict(), "objectives": list(self.names)}))

    def _check_run_dir(self) -> None:
        assert self.root is not None
        path = self.files.config
        want = self._record()
        if path.exists():
            have = read_json(path)
            if have != want:
                diffs = sorted(
                    f"{sec}.{k}" for sec in ("search", "space") for k in set(have.get(sec, {})) | set(want.get(sec, {}))
                    if have.get(sec, {}).get(k) != want.get(sec, {}).get(k)
                )
                if have.get("objectives") != want.get("objectives"):
                    diffs.append("objectives")
                raise RunDirError(
                    f"{self.root} holds a search with other settings ({', '.join(diffs) or 'format'} differ)",
                    "resume with the same settings, or choose a new run_dir",
                )
        elif self.main:
            atomic_write_json(path, want)

    def write_iteration(self, it: int, archive: list[ArchiveEntry], stats: dict[str, Any]) -> None:
        if self.root is None or not self.main:
            return
        files = self.files
        F = self.F(archive)
        front = [archive[i] for i in non_dominated(F)]
        atomic_write_json(files.iter_archive(it), entries_to_json(archive, self.names, iteration=it))
        atomic_write_json(files.iter_front(it), entries_to_json(front, self.names, iteration=it))
        atomic_write_json(files.iter_stats(it), stats)
        atomic_write_json(files.history, {"objectives": list(self.names), "iterations": self.stats})

    # ----------------------------------------------------------------- steps
    def initial_archive(self, timings: dict[str, float]) -> list[ArchiveEntry]:
        c, enc = self.cfg, self.enc
        bounds = list(dict.fromkeys([enc.lower_config(), enc.upper_config()]))
        n_draw = c.archive_size - len(bounds)
        draw = self.draw_fn(c.init)
        if c.preprocess and c.preprocess_multiplier:
            pool = sample_unique(draw, c.preprocess_multiplier * c.archive_size - len(bounds), self.rng(0, "pre"), exclude=bounds)
            accs = self.eval(pool, "pre", timings)
            entries = self.entries(pool, accs, 0)
            with _timer(timings, "survival"):
                keep = survive(self.F(entries), n_draw, self.rng(0, "pre-survival"), c.ref_dirs_seed)
            entries = [entries[i] for i in keep] + self.entries(bounds, self.eval(bounds, "init", timings), 0)
            return entries
        pool = sample_unique(draw, n_draw, self.rng(0, "init"), exclude=bounds) + bounds
        return self.entries(pool, self.eval(pool, "init", timings), 0)

    def propose(self, it: int, archive: list[ArchiveEntry]) -> tuple[list[SubnetConfig], list[float] | None, dict[str, float]]:
        """The K subnets to evaluate in iteration `it`, their predicted errors (None for random), timings."""
        rec = self.journal.event("proposal", it)
        if rec is not None:
            return [SubnetConfig.from_dict(d) for d in rec["configs"]], rec["pred_err"], dict(rec["timings"])
        timings: dict[str, float] = {}
        if self.cfg.candidate_source == "random":
            with _timer(timings, "propose"):
                cfgs = sample_unique(self.draw_fn("uniform"), self.cfg.candidates_per_iter, self.rng(it, "random"),
                                     exclude=[e.config for e in archive])
            pred: list[float] | None = None
        else:
            cfgs, pred = self._surrogate_proposal(it, archive, timings)
        self.journal.append([{
            "type": "proposal", "iteration": it, "configs": [c.to_dict() for c in cfgs], "pred_err": pred, "timings": timings,
        }])
        return cfgs, pred, timings

    def _surrogate_proposal(self, it: int, archive: list[ArchiveEntry], timings: dict[str, float]) -> tuple[list[SubnetConfig], list[float]]:
        from natv2.predictors import create

        c, enc, K = self.cfg, self.enc, self.cfg.candidates_per_iter
        with _timer(timings, "surrogate_fit"):
            X = enc.encode_many([e.config for e in archive])
            y = 100.0 * np.array([e.err for e in archive])  # surrogate target: top-1 error in percent (spec §3.5)
            model = create(c.surrogate, seed=self.seed_int(it, "surrogate"), **dict(c.surrogate_params))
            model.fit(enc.features(X, c.features), y)

        def predict_err(G: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict(enc.features(G, c.features)), dtype=np.float64).reshape(-1) / 100.0

        with _timer(timings, "emo"):
            problem = SurrogateProblem(enc, c.repair, predict_err, self.costs, self.m)
            settings = EmoSettings(c.emo_pop, c.emo_gens, c.emo_sampling, c.emo_crossover, c.emo_crossover_prob,
                                   c.emo_mutation_eta, c.ref_dirs_seed)
            G, F = run_emo(problem, settings, self.seed_int(it, "emo"))
            in_archive = {e.config for e in archive}
            cands: list[SubnetConfig] = []
            rows: list[np.ndarray] = []
            for cfg, f in zip(enc.decode_many(G), F):
                if cfg not in in_archive:
                    in_archive.add(cfg)
                    cands.append(cfg)
                    rows.append(f)
            if len(cands) < K:  # the EMO converged onto the archive: top up with fresh draws
                extra = sample_unique(self.draw_fn(c.init), K - len(cands), self.rng(it, "topup"), exclude=in_archive)
                Gx = enc.encode_many(extra)
                for cfg, p in zip(extra, predict_err(Gx)):
                    cands.append(cfg)
                    rows.append(np.array([p, *self.costs(cfg)]))
            CF = np.stack(rows)
        with _timer(timings, "subset"):
            chosen = self._select(it, archive, CF)
        return [cands[i] for i in chosen], [float(CF[i, 0]) for i in chosen]

    def _select(self, it: int, archive: list[ArchiveEntry], CF: np.ndarray) -> list[int]:
        K = self.cfg.candidates_per_iter
        by_pred = list(np.argsort(CF[:, 0], kind="stable"))
        if self.m == 1 or len(CF) <= K:
            return sorted(by_pred[:K])
        AF = self.F(archive)
        front = AF[non_dominated(AF)]
        idx = select_subset(
            normalise(CF[:, 1:], self.bounds[1:]), normalise(front[:, 1:], self.bounds[1:]), K,
            self.rng(it, "subset"), self.cfg.subset_pop, self.cfg.subset_gens,
        )
        chosen = [int(i) for i in idx]
        for i in by_pred:  # top up with the lowest predicted error
            if len(chosen) >= K:
                break
            if i not in chosen:
                chosen.append(int(i))
        return sorted(chosen)

    def update(self, it: int, archive: list[ArchiveEntry], new: list[ArchiveEntry]) -> list[ArchiveEntry]:
        merged = archive + new
        if self.cfg.archive_update == "unbounded":
            return merged
        keep = survive(self.F(merged), self.cfg.archive_size, self.rng(it, "archive"), self.cfg.ref_dirs_seed)
        return [merged[i] for i in keep]

    def sampler(self, it: int, archive: list[ArchiveEntry]) -> GeneSampler:
        """Per-gene distributions fitted on the top-N archive members by survival."""
        c = self.cfg
        top = survive(self.F(archive), c.top_n, self.rng(it, "topn"), c.ref_dirs_seed)
        X = self.enc.encode_many([archive[i].config for i in top])
        dist = fit_distribution(c.distribution, X, self.enc.lb, self.enc.ub, c.distribution_smoothing)
        return GeneSampler(self.enc, dist, c.repair)

    def adapt(self, it: int, archive: list[ArchiveEntry], sampler: GeneSampler, timings: dict[str, float]) -> tuple[list[ArchiveEntry], bool]:
        if self.adapter is None:
            return archive, False
        rec = self.journal.event("adapt", it)
        if rec is None:
            t0 = time.perf_counter()
            changed = bool(self.adapter.adapt(sampler, it))
            timings["adapt"] = time.perf_counter() - t0
            self.journal.append([{"type": "adapt", "iteration": it, "changed": changed, "seconds": timings["adapt"]}])
        else:
            changed = bool(rec["changed"])
            timings["adapt"] = float(rec.get("seconds", 0.0))
        if not changed:
            return archive, False
        accs = self.eval([e.config for e in archive], f"it{it:03d}/reeval", timings, "reeval")
        return [dataclasses.replace(e, acc=a, evaluated=it) for e, a in zip(archive, accs)], True

    def iteration_stats(self, it: int, archive: list[ArchiveEntry], timings: dict[str, float], **extra: Any) -> dict[str, Any]:
        F = self.F(archive)
        return {
            "iteration": it,
            "hv": hypervolume(F, self.bounds, self.cfg.hv_ref),
            "n_archive": len(archive),
            "n_front": int(len(non_dominated(F))),
            "n_evaluations": self.n_evals,
            "best": {n: float(F[:, j].min()) for j, n in enumerate(self.names)},
            **extra,
            "timings": {k: round(v, 4) for k, v in timings.items()},
        }

    # ----------------------------------------------------------------- main
    def run(self) -> SearchResult:
        lock = None
        if self.root is not None and self.main:
            from natv2.io.lock import FileLock

            self.root.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.root / LOCK_FILE, what=f"search directory '{self.root}'").acquire()
        try:
            if self.root is not None:
                self._check_run_dir()
            return self._run()
        finally:
            if lock is not None:
                lock.release()

    def _run(self) -> SearchResult:
        c = self.cfg
        timings: dict[str, float] = {}
        archive = self.initial_archive(timings)
        self.stats.append(self.iteration_stats(0, archive, timings, surrogate=None, adapted=False))
        self.write_iteration(0, archive, self.stats[-1])
        for it in range(1, c.iterations + 1):
            cfgs, pred, timings = self.propose(it, archive)
            accs = self.eval(cfgs, f"it{it:03d}/cand", timings)
            new = self.entries(cfgs, accs, it)
            metrics = None
            if pred is not None:
                from natv2.predictors import rank_metrics

                raw = rank_metrics(100.0 * (1.0 - np.array(accs)), 100.0 * np.array(pred))
                metrics = {k: (float(v) if np.isfinite(v) else None) for k, v in raw.items()}  # JSON has no NaN
            with _timer(timings, "update"):
                archive = self.update(it, archive, new)
            with _timer(timings, "distribution"):
                sampler = self.sampler(it, archive)
            archive, adapted = self.adapt(it, archive, sampler, timings)
            self.stats.append(self.iteration_stats(it, archive, timings, surrogate=metrics, adapted=adapted))
            self.write_iteration(it, archive, self.stats[-1])
        F = self.F(archive)
        front = [archive[i] for i in non_dominated(F)]
        picks = [archive[i] for i in high_tradeoff(F, n=4)]
        if self.root is not None and self.main:
            atomic_write_json(self.files.non_dominated, entries_to_json(front, self.names, **stamp({})))
            atomic_write_json(self.files.high_tradeoff, entries_to_json(picks, self.names, **stamp({})))
        return SearchResult(archive, front, picks, self.stats, c, self.names)


def default_hv_bounds(objectives: Sequence[Objective], enc: GeneEncoding) -> dict[str, tuple[float, float]]:
    """Fixed normalisation when the config gives none: err in [0, 1]; a cost in [0, cost(upper-bound subnet)]."""
    top = enc.upper_config()
    out: dict[str, tuple[float, float]] = {}
    for o in objectives:
        if o.is_error:
            out[o.name] = (0.0, 1.0)
        else:
            hi = float(o.fn(top))
            out[o.name] = (0.0, hi if hi > 0 else 1.0)
    return out


def complete_config(config: SearchConfig | None) -> SearchConfig:
    """The complete config of one search: `config`'s own values, its policy's preset for the fields it leaves
    None. The one seed rule: `config.seed`, or 0 when it is None (the stage fills it from `run.seed` first)."""
    if config is None:
        return make_config("natv2")
    if not isinstance(config, SearchConfig):
        raise ConfigError(f"run_search's third argument is a SearchConfig, not {type(config).__name__} {config!r}",
                          "put objectives, policy, seed and switches in one SearchConfig: run_search(space, evaluate, "
                          "SearchConfig(policy='natv2', objectives=('err', 'params'), seed=0))")
    own = {k: v for k, v in config.to_dict().items() if k != "policy"}
    return make_config(config.policy, **own)


def _objectives(cfg: SearchConfig, ctx: ObjectiveContext, fns: Mapping[str, Any] | None) -> list[Objective]:
    """Built-in objectives by name; the names `fns` maps get their own function (an Objective or a callable)."""
    fns = dict(fns or {})
    unused = sorted(set(fns) - set(cfg.objectives))
    if unused:
        raise ConfigError(f"objective_fns names {unused}, which SearchConfig.objectives {list(cfg.objectives)} lacks",
                          "list every objective in SearchConfig(objectives=...), err first")
    def spec(name: str) -> Any:
        if name not in fns:
            return name  # built in
        return fns[name] if isinstance(fns[name], Objective) else (name, fns[name])

    return resolve_objectives([spec(n) for n in cfg.objectives], ctx)


def run_search(
    space: SearchSpace | Mapping[str, Any] | None,
    evaluate: Evaluate,
    config: SearchConfig | None = None,
    *,
    run_dir: str | Path | None = None,
    adapter: SupernetAdapter | None = None,
    objective_fns: Mapping[str, Any] | None = None,
    latency_table: Any = None,
    supernet: Any = None,
    latency_options: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Run (or resume, given the same `run_dir`) a NAT / NATv2 / random search.

    Args:
        space: a SearchSpace or a dict of allowed values (ks, e, d, r, w, nd, nw; plus `arch` for the
            cost model family and `n_classes`).
        evaluate: list[SubnetConfig] -> accuracies in [0, 1].
        config: the whole search in one place: policy ("nat", "natv2" or "random", whose preset fills
            every switch left None), switches, objectives ("err" first) and seed (None: 0). None gives
            NATv2's defaults. An ablation is one field: `SearchConfig(policy="natv2", repair="push")`.
        run_dir: where the journal lives; the same folder again resumes the search.
        adapter: optional supernet adaptation between iterations (`SupernetAdapter`).
        objective_fns: functions for names in `config.objectives` that are not built in, e.g.
            `{"size": fn}` (fn: SubnetConfig -> float, lower is better).
        latency_table: LatencyTable or path, for "lut_latency".
        supernet: the supernet whose subnets "latency" measures.
        latency_options: keyword arguments of `natv2.measure.measure_latency` (threads, batch_size,
            warmup, runs, device) for "latency".
    """
    sp = as_space(space)
    cfg = complete_config(config)
    ctx = ObjectiveContext(
        space=sp,
        arch=sp.arch,
        n_classes=sp.n_classes,
        latency_table=latency_table,
        supernet=supernet,
        extra={"latency_options": dict(latency_options)} if latency_options else {},
    )
    objs = _objectives(cfg, ctx, objective_fns)
    enc = GeneEncoding(sp)
    missing = [o for o in objs if o.name not in cfg.hv_bounds]
    if missing:
        cfg = cfg.replace(hv_bounds={**default_hv_bounds(missing, enc), **dict(cfg.hv_bounds)})
    if adapter is not None and not callable(getattr(adapter, "adapt", None)):
        raise ConfigError("adapter has no adapt(sampler, iteration) method", "pass a natv2.search.SupernetAdapter")
    return _Search(sp, evaluate, objs, cfg, run_dir, adapter).run()
