"""The `finetune` stage over a run directory: final supernet + search output + data -> models/.

What `natv2 finetune` and `natv2 run` call; everything else in natv2.finetune is usable alone.
"""

from __future__ import annotations

from typing import Any, Callable

from natv2.errors import ConfigError
from natv2.stage import Outcome, StageContext

STAGE = "finetune"


def run_finetune_stage(run: Any, config: Any, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Post-process the chosen subnets of `run` (a writable natv2.io.rundir.RunDir) with `config` (RunConfig).

    The pipeline driver (natv2.pipeline.run) sets threads and records the stage's start and done."""
    from natv2.data import load_dataset
    from natv2.data.placement import place_splits
    from natv2.finetune.data import SplitsDataFactory
    from natv2.finetune.runner import FinetuneRunner
    from natv2.finetune.selection import select_subnets
    from natv2.finetune.sources import load_final_supernet

    ft = config.finetune
    cands = select_subnets(ft.select, run.path, ft.archive, ft.names, ft.max_subnets)
    supernet, stem = load_final_supernet(run.path, ft.supernet)
    splits = load_dataset(config.data)
    if splits.num_classes != supernet.n_classes:
        raise ConfigError(f"the supernet has {supernet.n_classes} classes but dataset '{config.data.name}' has "
                          f"{splits.num_classes}", "fine-tune on the dataset the search used (data.name)")
    log(f"finetune: {len(cands)} subnet(s) from {cands[0].origin or 'the search'}, supernet {stem}, "
        f"variants {', '.join(ft.variants)}, up to {ft.max_epochs} epochs (patience {ft.patience})")
    from natv2.device import resolve_device

    device = resolve_device(config.run.device)
    splits = place_splits(splits, device, config.data.on_device)
    data_for = SplitsDataFactory(splits, config.data, ft.batch_size, seed=config.run.seed)

    def on_done(s: dict[str, Any]) -> None:
        run.log_event(STAGE, "subnet_done", name=s["name"], variant=s["variant"], e_star=s["e_star"],
                      before_test=(s["before"].get("test") or {}).get("top1"),
                      after_test=(s["after"].get("test") or {}).get("top1"), params=s["params"], macs=s["macs"])
        log(f"  {s['name']}: E*={s['e_star']}, test top-1 {_pct(s['before'].get('test'))} -> {_pct(s['after'].get('test'))}")

    source = {"run_dir": str(run.path), "run_id": run.path.name, "supernet_checkpoint": str(stem)}
    runner = FinetuneRunner(ft, supernet, data_for, run.models_dir, seed=config.run.seed, source=source, log=log,
                            on_done=on_done, device=device)
    return runner.run(cands)


def _pct(result: dict | None) -> str:
    return "n/a" if not result else f"{100 * result['top1']:.2f}%"


def format_table(summary: dict[str, Any]) -> list[str]:
    rows = [f"  {'model':<34} {'variant':<10} {'params':>9} {'MMACs':>8} {'E*':>4} {'before':>8} {'after':>8}"]
    for s in summary["subnets"]:
        rows.append(f"  {s['name']:<34} {s['variant']:<10} {s['params']:>9,d} {s['macs'] / 1e6:>8.2f} {s['e_star']:>4d} "
                    f"{_pct(s['before'].get('test')):>8} {_pct(s['after'].get('test')):>8}")
    return rows


def run(ctx: StageContext) -> Outcome[dict[str, Any]]:
    """The `finetune` stage (natv2.stage's contract): post-process the search's chosen subnets."""
    summary = run_finetune_stage(ctx.run, ctx.config, log=ctx.log)
    return Outcome(f"fine-tuned {len(summary['subnets'])} subnet(s) -> {ctx.run.models_dir}",
                   {"n_models": len(summary["subnets"])}, summary)
