"""Post-process a list of chosen subnets into `<models>/<name>/`, one subnet (and variant) at a time.

Per job folder:
    finetuned.safetensors, finetuned.json   the fine-tuned network (natv2.load_model reads it)
    the job's result file                   written last, so it marks the job done
and a summary file in `<models>/` covers every job (file names: natv2.io.artifacts). A job whose
result file exists is not redone, so an interrupted `natv2 finetune` resumes at the first unfinished subnet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from torch import nn

from natv2.errors import ConfigError, RunDirError
from natv2.supernets.bundle import save_bundle
from natv2.finetune import loop
from natv2.finetune.build import builder, multi_exit_ok
from natv2.finetune.config import FinetuneConfig
from natv2.finetune.costs import subnet_cost
from natv2.finetune.objectives import MultiExitObjective, SingleExitObjective
from natv2.finetune.protocol import FinetuneData, OptimSpec, TwoStepFinetuner
from natv2.finetune.result import FineTuneResult
from natv2.finetune.selection import Candidate
from natv2.finetune.weights import exit_weights
from natv2.io.atomic import atomic_write_json

from natv2.io.artifacts import FINETUNE_SUMMARY as SUMMARY_FILE
from natv2.io.artifacts import FINETUNED_STEM as WEIGHTS_STEM
from natv2.io.artifacts import stamp


@dataclass(frozen=True)
class FinetuneJob:
    candidate: Candidate
    variant: str

    @property
    def name(self) -> str:
        return self.candidate.name + ("-aep" if self.variant == "multi_exit" else "")


def plan_jobs(cands: Sequence[Candidate], variants: Sequence[str]) -> tuple[list[FinetuneJob], list[dict]]:
    """Jobs per (subnet, variant); multi-exit jobs for subnets without two exits are skipped (listed)."""
    jobs, skipped = [], []
    for c in cands:
        for v in variants:
            if v == "multi_exit" and not multi_exit_ok(c.config):
                skipped.append({"name": c.name, "variant": v, "reason": f"needs an early exit nd >= 2 (nd={c.config.nd})"})
                continue
            jobs.append(FinetuneJob(c, v))
    return jobs, skipped


def model_cost(supernet: Any, job: FinetuneJob, model: nn.Module) -> dict[str, int]:
    """Params / MACs from the closed form (with the extra exits of the AEP variant), else the hook counter."""
    try:
        c = subnet_cost(supernet.name, supernet.n_classes, job.candidate.config, job.variant)
        return {"params": int(c.params), "macs": int(c.macs), "counted_by": "closed_form"}
    except (KeyError, ValueError, ConfigError):
        from natv2.measure import count_macs, count_params

        return {"params": count_params(model), "macs": count_macs(model, job.candidate.config.r), "counted_by": "hooks"}


class FinetuneRunner:
    """Runs the two-step protocol over jobs, skipping finished ones. Everything it needs is injected."""

    def __init__(self, cfg: FinetuneConfig, supernet: Any, data_for: Callable[[int], FinetuneData], out_dir: str | Path,
                 *, seed: int = 0, source: Mapping[str, Any] | None = None, log: Callable[[str], None] | None = None,
                 on_done: Callable[[dict], None] | None = None, evaluate: Callable[..., loop.EvalResult] = loop.evaluate,
                 recalibrate: Callable[..., nn.Module] | None = None, device: str = "cpu") -> None:
        self.cfg, self.supernet, self.data_for = cfg, supernet, data_for
        self.out = Path(out_dir)
        self.seed = seed
        self.source = dict(source or {})
        self.log = log or (lambda msg: None)
        self.on_done = on_done or (lambda summary: None)
        self.evaluate = evaluate
        self.device = device
        if recalibrate is None:
            from natv2.supernets import recalibrate_bn

            recalibrate = lambda model, batches: recalibrate_bn(model, batches, inplace=True)  # noqa: E731
        self.recalibrate = recalibrate

    @property
    def early_exit_supernet(self) -> bool:
        arch = getattr(self.supernet, "arch", None)
        return bool(getattr(arch, "early_exit", False))

    def job_dir(self, job: FinetuneJob) -> Path:
        return self.out / job.name

    def is_done(self, job: FinetuneJob) -> bool:
        return FineTuneResult.exists(self.job_dir(job))

    def _finetuner(self, job: FinetuneJob) -> TwoStepFinetuner:
        cfg = self.cfg
        if job.variant == "multi_exit":
            alpha, _ = exit_weights(job.candidate.config.nd, cfg.exit_ordering)
            objective = MultiExitObjective(alpha, cfg.label_smoothing)
        else:
            objective = SingleExitObjective(cfg.label_smoothing)
        optim = OptimSpec.from_config(cfg, job.variant, self.early_exit_supernet)
        return TwoStepFinetuner(cfg, objective, optim, self.recalibrate, evaluate=self.evaluate,
                                log=lambda m: self.log(f"{job.name}: {m}"), seed=self.seed, device=self.device)

    def run_job(self, job: FinetuneJob) -> dict[str, Any]:
        cfg, cand = self.cfg, job.candidate
        build = builder(self.supernet, cand.config, job.variant, cfg.exit_ordering, cfg.dropout)
        data = self.data_for(cand.config.r)
        t0 = time.perf_counter()
        result = self._finetuner(job).run(build, data)
        model = result.model
        costs = model_cost(self.supernet, job, model)
        folder = self.job_dir(job)
        summary: dict[str, Any] = {
            "name": job.name,
            "variant": job.variant,
            "subnet": cand.config.to_dict(),
            "supernet": getattr(self.supernet, "name", None),
            "n_classes": getattr(self.supernet, "n_classes", None),
            "resolution": cand.config.r,
            "search": {"accuracy": cand.accuracy, "iteration": cand.iteration, "objectives": dict(cand.objectives),
                       "index": cand.index, "origin": cand.origin},
            **costs,
            "e_star": result.e_star,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "best_val_top1": result.best_val_top1,
            "before": result.before,
            "after": result.after,
            "optimizer": result.optimizer,
            "seconds": {**result.seconds, "total": time.perf_counter() - t0},
            "weights": f"{WEIGHTS_STEM}.safetensors",
            "source": self.source,
        }
        if job.variant == "multi_exit":
            alpha, beta = exit_weights(cand.config.nd, cfg.exit_ordering)
            summary["exits"] = list(range(1, cand.config.nd + 1))
            summary["exit_weights"] = {"ordering": cfg.exit_ordering, "alpha": alpha, "beta": beta}
        meta = {"natv2_finetune": {k: summary[k] for k in ("name", "variant", "subnet", "supernet", "n_classes",
                                                          "resolution", "params", "macs", "e_star", "after", "before")}}
        save_bundle(model, folder / WEIGHTS_STEM, meta)
        FineTuneResult.write(folder, summary, result.history)
        return summary

    def finished_results(self) -> list[dict[str, Any]]:
        """Every job result in the models folder (without its per-epoch history), by folder name."""
        out = []
        for folder in FineTuneResult.folders(self.out):
            try:
                out.append(FineTuneResult.read(folder).to_dict())
            except (RunDirError, ValueError):  # a damaged record: that model is not listed (re-running redoes it)
                continue
        return out

    def run(self, cands: Sequence[Candidate]) -> dict[str, Any]:
        """Fine-tune every (subnet, variant) not yet done; returns and writes the summary."""
        jobs, skipped = plan_jobs(cands, self.cfg.variants)
        done: list[dict] = []
        for i, job in enumerate(jobs, start=1):
            if self.is_done(job):
                self.log(f"[{i}/{len(jobs)}] {job.name}: already fine-tuned, skipped")
                result = FineTuneResult.read(self.job_dir(job)).to_dict()
            else:
                self.log(f"[{i}/{len(jobs)}] {job.name}: fine-tuning ({job.variant})")
                result = self.run_job(job)
                self.on_done(result)
            done.append(result)
        # The models folder is shared by every invocation (e.g. the picks first, the whole front later):
        # the summary lists what this one chose first, then the jobs earlier ones finished.
        chosen = {(r["name"], r["variant"]) for r in done}
        earlier = [r for r in self.finished_results() if (r["name"], r["variant"]) not in chosen]
        summary = {"subnets": done + earlier, "selected": [r["name"] for r in done], "skipped": skipped,
                   "test_split_used_for": "final report only (never selection)"}
        atomic_write_json(self.out / SUMMARY_FILE, stamp(summary))
        return summary
