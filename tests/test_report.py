"""`natv2 report`: the HTML report of a run directory, from the files the stages write.

The synthetic run directories are written with the stages' own writers where that is cheap: RunDir
(config.yaml, events.jsonl), MetricsLog (train/metrics.jsonl), ArchiveEntry / entries_to_json and the
search indicators (search/iter_NNN/*.json, non_dominated.json, high_tradeoff.json), and
model_metadata (models/<name>/meta.json); finetune.json / export.json follow the runners' formats.
"""

from __future__ import annotations

import contextlib
import io
import html as html_lib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from natv2.cli.main import main
from natv2.errors import RunDirError
from natv2.io import atomic_write_json
from natv2.io.rundir import RunDir
from natv2.pipeline.config import resolve_config
from natv2.report import build_report, generate_report
from natv2.report.html import esc, tag
from natv2.report.load import stage_timings
from natv2.report.sections.search import fixed_limits
from natv2.search.archive import ArchiveEntry, entries_to_json
from natv2.search.indicators import high_tradeoff, hypervolume, non_dominated
from natv2.space import SearchSpace
from natv2.train.metrics import MetricsLog

EVIL = '<script>alert("natv2")</script>'
OBJECTIVES = ("err", "params", "macs")
HV_BOUNDS = {"err": (0.0, 1.0), "params": (0.0, 8e6), "macs": (0.0, 6e7)}


# ----------------------------------------------------------------------------- writers
def write_run(root: Path, *, config_overrides: tuple[str, ...] = ()) -> RunDir:
    cfg = resolve_config(preset="quickstart", overrides=["run.threads=1", *config_overrides])
    run = RunDir.open(root, cfg)
    return run


def write_training(run: RunDir) -> None:
    """Per-epoch records as SupernetTrainer writes them: val grid labelled name@resolution."""
    log = MetricsLog(run.path / "train" / "metrics.jsonl")
    phases = [("full", 3, False), ("kernel", 2, True), ("depth", 2, True)]
    for pi, (phase, epochs, elastic) in enumerate(phases):
        run.log_event("train", "phase_start", phase=phase, epoch=0)
        for epoch in range(epochs):
            base = 40 + 10 * pi + 5 * epoch
            val = {"max@24": base + 2.0, "max@32": base + 4.0}
            if elastic:
                val.update({"min@24": base - 15.0, "min@32": base - 12.0, "min_ks@32": base - 3.0,
                            "rand0@24": base - 6.0, "rand1@24": base - 8.0, "rand0@32": base - 4.0,
                            "rand1@32": base - 5.0})
            record = {"phase": phase, "phase_index": pi, "epoch": epoch, "lr": 0.01, "train_loss": 2.0 - 0.1 * (pi + epoch),
                      "images_per_s": 120.0, "train_s": 3.5, "val_mean": sum(val.values()) / len(val), "val": val}
            if epoch == epochs - 1:
                record["phase_eval"] = {"split": "test", "acc": {"max@32": base + 3.0, "min@32": base - 13.0,
                                                                 "rand0@32": base - 5.0, "rand1@32": base - 6.0},
                                        "max": base + 3.0, "min": base - 13.0, "random_mean": base - 5.5, "configs": {}}
            log.append(record)
            run.log_event("train", "epoch_end", phase=phase, epoch=epoch)
        run.log_event("train", "phase_end", phase=phase)
    atomic_write_json(run.path / "train" / "supernet.json", {"format": "natv2-supernet-checkpoint", "arch": {},
                                                             "meta": {"supernet": "ofav2_ee_b", "n_classes": 10, "seed": 0}})
    run.mark_done("train")


def _acc(cfg) -> float:
    size = sum(cfg.e[i] * cfg.ks[i] ** 2 for i in cfg.active_layer_indices()) * (cfg.r / 32) ** 2
    return 0.3 + 0.6 * (1 - math.exp(-size / 500)) + 0.01 * ((int(cfg.digest(8), 16) % 100) / 100 - 0.5)


def _costs(cfg) -> tuple[float, float]:
    size = sum(cfg.e[i] * cfg.ks[i] ** 2 for i in cfg.active_layer_indices()) * (cfg.r / 32) ** 2
    return 1e6 + 3e3 * size, 4e6 + 5e4 * size


def write_search(run: RunDir, iterations: int = 3, per_iter: int = 6, seed: int = 0) -> dict:
    """search/ as the search loop writes it (same writers, same stats keys)."""
    space = SearchSpace.from_dict({"r": [24, 32], "w": [1.0]})
    rng = np.random.default_rng(seed)
    root = run.path / "search"
    atomic_write_json(root / "config.json", {
        "format": 1, "objectives": list(OBJECTIVES), "space": space.to_dict(),
        "search": {"policy": "natv2", "iterations": iterations, "archive_size": 12, "candidates_per_iter": per_iter,
                   "candidate_source": "surrogate", "surrogate": "rbf", "objectives": list(OBJECTIVES),
                   "hv_bounds": {k: list(v) for k, v in HV_BOUNDS.items()}, "hv_ref": 1.1}})
    bounds = [HV_BOUNDS[n] for n in OBJECTIVES]
    archive: list[ArchiveEntry] = []
    history = []
    for it in range(iterations + 1):
        new = [space.sample(rng) for _ in range(12 if it == 0 else per_iter)]
        archive += [ArchiveEntry(c, _acc(c), _costs(c), it, it) for c in new]
        F = np.stack([e.objective_vector() for e in archive])
        front = [archive[i] for i in non_dominated(F)]
        surrogate = None if it == 0 else {"rmse": 3.0 / it, "pearson": 0.5 + 0.1 * it, "spearman": 0.4 + 0.15 * it,
                                          "kendall": 0.3 + 0.15 * it}
        stats = {"iteration": it, "hv": hypervolume(F, bounds, 1.1), "n_archive": len(archive), "n_front": len(front),
                 "n_evaluations": len(archive), "best": {n: float(F[:, j].min()) for j, n in enumerate(OBJECTIVES)},
                 "surrogate": surrogate, "adapted": False, "timings": {"surrogate_fit": 0.1, "emo": 0.5, "evaluate": 2.0}}
        history.append(stats)
        d = root / f"iter_{it:03d}"
        atomic_write_json(d / "archive.json", entries_to_json(archive, OBJECTIVES, iteration=it))
        atomic_write_json(d / "front.json", entries_to_json(front, OBJECTIVES, iteration=it))
        atomic_write_json(d / "stats.json", stats)
        run.log_event("search", "iteration_done", iteration=it)
    atomic_write_json(root / "history.json", {"objectives": list(OBJECTIVES), "iterations": history})
    F = np.stack([e.objective_vector() for e in archive])
    front = [archive[i] for i in non_dominated(F)]
    picks = [archive[i] for i in high_tradeoff(F, n=2)]
    atomic_write_json(root / "non_dominated.json", entries_to_json(front, OBJECTIVES))
    atomic_write_json(root / "high_tradeoff.json", entries_to_json(picks, OBJECTIVES))
    run.mark_done("search")
    return {"front": front, "picks": picks, "archive": archive}


def write_models(run: RunDir, chosen: list[ArchiveEntry], *, evil_name: str | None = None) -> list[str]:
    """models/ as FinetuneRunner and the export stage write it (files with placeholder bytes)."""
    from natv2.export.metadata import model_metadata

    models = run.path / "models"
    subnets, exported, names = [], [], []
    for k, e in enumerate(chosen):
        name = evil_name if (evil_name and k == 0) else e.config.file_stem()
        names.append(name)
        params, macs = (int(c) for c in e.costs)
        before = {"val": {"split": "val", "top1": e.acc, "loss": 1.0, "n": 100},
                  "test": {"split": "test", "top1": e.acc - 0.01, "loss": 1.0, "n": 500}}
        after = {"test": {"split": "test", "top1": e.acc + 0.02, "loss": 0.8, "n": 500}}
        summary = {"name": name, "variant": "single", "subnet": e.config.to_dict(), "supernet": "ofav2_ee_b", "n_classes": 10,
                   "resolution": e.config.r, "search": {"accuracy": e.acc, "iteration": e.iteration,
                                                        "objectives": {"params": e.costs[0]}, "index": k,
                                                        "origin": "non_dominated.json"},
                   "params": params, "macs": macs, "counted_by": "closed_form", "e_star": 3, "epochs_run": 5,
                   "stopped_early": True, "best_val_top1": e.acc + 0.01, "before": before, "after": after,
                   "optimizer": {"name": "sgd"}, "seconds": {"step1": 10.0, "step2": 5.0, "test": 1.0, "total": 16.0},
                   "weights": "finetuned.safetensors", "source": {"run_dir": str(run.path), "run_id": run.path.name}}
        folder = models / name
        folder.mkdir(parents=True)
        atomic_write_json(folder / "finetune.json", {**summary, "history": []})
        files = {"safetensors": "model.safetensors", "json": "model.json", "torchscript": "model.pt", "onnx": "model.onnx"}
        for f in files.values():
            (folder / f).write_bytes(b"placeholder")
        meta = model_metadata(name=name, subnet=e.config.to_dict(), supernet="ofav2_ee_b", n_classes=10,
                              resolution=e.config.r, variant="single", outputs=["logits"], params=params, macs=macs,
                              accuracy={"top1": e.acc + 0.02, "split": "test", "weights": "finetuned",
                                        "before_finetune": e.acc - 0.01},
                              latency={"median_ms": 1.5 + k, "batch_size": 1, "threads": 1, "device": "cpu",
                                       "device_name": "Test CPU", "runs": 50, "resolution": e.config.r},
                              source={"run_dir": str(run.path), "run_id": run.path.name, "iteration": e.iteration})
        atomic_write_json(folder / "meta.json", {**meta, "files": files,
                                                 "parity": {"max_abs_diff": {"onnx": {"1": 2e-6, "3": 3e-6}}}})
        subnets.append(summary)
        exported.append({"name": name, "folder": name, "variant": "single", "files": files, "params": params,
                         "macs": macs, "accuracy": meta["accuracy"], "latency_ms": 1.5 + k, "max_abs_diff": 3e-6})
        run.log_event("finetune", "subnet_done", name=name)
    atomic_write_json(models / "finetune.json", {"subnets": subnets, "skipped": [],
                                                 "test_split_used_for": "final report only (never selection)"})
    run.mark_done("finetune")
    atomic_write_json(models / "export.json", {"models": exported, "tolerance": 1e-4})
    run.mark_done("export")
    return names


def make_full_run(root: Path) -> Path:
    with write_run(root, config_overrides=(f"data.root={EVIL}",)) as run:
        write_training(run)
        found = write_search(run)
        chosen = sorted(found["front"], key=lambda e: -e.acc)[:2] + [p for p in found["picks"]][:1]
        write_models(run, list({e.config: e for e in chosen}.values()), evil_name='<img src=x onerror="alert(1)">')
    return root


@pytest.fixture()
def full_run(tmp_path) -> Path:
    """A run with every stage, for tests that change it."""
    return make_full_run(tmp_path / "run")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full run and its report, shared by the tests that only read them (figures take seconds)."""
    root = make_full_run(tmp_path_factory.mktemp("built") / "run")
    report = generate_report(root)
    return root, report, report.index.read_text(encoding="utf-8")


class _Refs(HTMLParser):
    """Every src/href of a page, and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v is not None:
                self.refs.append((k, v))
            if k == "id":
                self.ids.add(v)


def parse(html: str) -> _Refs:
    p = _Refs()
    p.feed(html)
    return p


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- the full page
def test_full_run_has_every_section_figure_and_working_relative_links(built):
    root, report, html = built
    assert report.index == root / "report" / "index.html"
    assert report.sections == ["summary", "training", "search", "models"] and not report.problems and not report.absent
    page = parse(html)
    for section_id in ("summary", "stages", "training", "training-phases", "training-eval", "search", "search-fronts",
                       "search-hv", "search-surrogate", "search-iterations", "search-final", "models", "models-shift"):
        assert section_id in page.ids, section_id
        assert f'href="#{section_id}"' in html, f"table of contents lacks {section_id}"
    names = {p.name for p in report.figures}
    assert names == {"training_curves.png", "front_params_overlay.png", "front_params_grid.png",
                     "front_macs_overlay.png", "front_macs_grid.png", "hypervolume.png", "surrogate.png",
                     "finetune_shift.png"}
    for p in report.figures:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000, p
    # offline and portable: no scripts, nothing fetched from the network, every reference relative and existing
    assert "script" not in page.tags
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    images = [v for k, v in page.refs if k == "src"]
    assert len(images) == len(report.figures)
    for _, ref in page.refs:
        if ref.startswith("#"):
            continue
        assert not os.path.isabs(unquote(ref)), ref
        assert (report.index.parent / unquote(ref)).resolve().is_file(), f"broken link {ref}"
    model_links = [unquote(v) for k, v in page.refs if k == "href" and "/models/" in v]
    assert any(ref.endswith("model.onnx") for ref in model_links) and any(ref.endswith("meta.json") for ref in model_links)


def test_page_content_units_rounding_and_picks(built):
    root, _, html = built
    for text in ("params (M)", "MACs (M)", "latency (ms)", "Test CPU, batch 1, 1 thread", "fine-tuned test (%)",
                 "inherited test (%)", "Kendall τ", "Spearman ρ", "RMSE (pp)", "ofav2_ee_b", "10 classes)",
                 "policy natv2", "objectives top-1 error · params · MACs",
                 "normalisation bounds", "1.10^3 = 1.331", "★ P1", "End-of-phase evaluation", "pick"):
        assert text in html, text
    front = json.loads((root / "search" / "non_dominated.json").read_text())["entries"]
    best = max(front, key=lambda e: e["acc"])
    assert f"{100 * best['acc']:.2f}" in html  # accuracy in %, two decimals
    assert f"{best['objectives']['params'] / 1e6:.2f}" in html  # params in M
    assert not re.search(r"\d\.\d{5,}", re.sub(r"<pre.*?</pre>", "", html, flags=re.S)), "unrounded number on the page"


def test_every_embedded_string_is_escaped(built):
    html = built[2]
    assert EVIL not in html and esc(EVIL) in html  # a config value, shown in the full config
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html  # a model name
    assert "script" not in parse(html).tags
    assert str(tag("a", "x", href='"><script>')) == '<a href="&quot;&gt;&lt;script&gt;">x</a>'


# ----------------------------------------------------------------------------- partial and damaged runs
def test_a_run_with_only_training_renders_and_says_what_is_missing(tmp_path):
    with write_run(tmp_path / "run") as run:
        write_training(run)
    report = generate_report(tmp_path / "run")
    assert report.sections == ["summary", "training"]
    assert [t for t, _ in report.absent] == ["Search", "Final models"]
    html = report.index.read_text(encoding="utf-8")
    assert "Not in this run" in html and "the search has not run here" in html
    assert "(not in this run)" in html  # greyed in the table of contents
    assert 'id="search"' not in html and 'id="models"' not in html
    assert [p.name for p in report.figures] == ["training_curves.png"]
    assert "not run" in html  # the stages table


def test_a_run_dir_with_only_a_config_renders_a_summary(tmp_path):
    write_run(tmp_path / "run").close()
    report = generate_report(tmp_path / "run")
    assert report.sections == ["summary"] and report.figures == []
    assert "cifar10" in report.index.read_text(encoding="utf-8")


def test_settings_a_resume_changed_are_shown_with_the_rule_that_allowed_them(tmp_path):
    write_run(tmp_path / "run").close()
    RunDir.open(tmp_path / "run", resolve_config(preset="quickstart", overrides=["run.threads=1", "run.seed=3"]), force=True).close()
    page = generate_report(tmp_path / "run").index.read_text(encoding="utf-8")
    assert "Settings changed on resume" in page and "no stage that already held results depends on it" in page
    row = re.search(r"<tr>(?:(?!</tr>).)*run\.seed(?:(?!</tr>).)*</tr>", page, re.S)
    assert row is not None and ">0<" in row.group(0) and ">3<" in row.group(0)
    write_run(tmp_path / "plain").close()
    assert "Settings changed on resume" not in generate_report(tmp_path / "plain").index.read_text(encoding="utf-8")


def test_an_imported_supernet_is_named_as_the_source_not_a_training_recipe(tmp_path):
    write_run(tmp_path / "run", config_overrides=("search_stage.supernet=elsewhere/train/supernet",)).close()
    html = generate_report(tmp_path / "run").index.read_text(encoding="utf-8")
    assert "given checkpoint elsewhere/train/supernet (not trained in this run)" in html
    assert "training recipe" not in html
    write_run(tmp_path / "trained").close()
    assert "training recipe" in generate_report(tmp_path / "trained").index.read_text(encoding="utf-8")


def test_a_damaged_json_file_skips_its_section_with_a_visible_note(full_run, tmp_path):
    bad = full_run / "search" / "iter_002" / "stats.json"
    bad.write_text('{"iteration": 2, "hv": 0.5', encoding="utf-8")
    report = generate_report(full_run)
    assert report.sections == ["summary", "training", "models"]
    assert len(report.problems) == 1 and "search/iter_002/stats.json" in report.problems[0]
    html = report.index.read_text(encoding="utf-8")
    assert "could not be read" in html and html.count("search/iter_002/stats.json") >= 2  # top box and the section
    assert 'id="search"' in html and "(skipped)" in html
    rc, out, err = _cli("report", str(full_run))
    assert rc == 0 and "warning: search/iter_002/stats.json" in err and "report:" in out


def test_damaged_events_and_config_do_not_stop_the_report(full_run):
    (full_run / "config.yaml").write_text("run: [unclosed\n", encoding="utf-8")
    report = generate_report(full_run)
    assert "summary" not in report.sections and "training" in report.sections and "search" in report.sections
    assert any(p.startswith("config.yaml: not valid YAML") for p in report.problems)


def test_dollar_signs_are_drawn_as_text_and_nan_entries_are_damage(tmp_path):
    with write_run(tmp_path / "run") as run:
        MetricsLog(run.path / "train" / "metrics.jsonl").append(
            {"phase": r"$\frac{", "phase_index": 0, "epoch": 0, "train_loss": 1.0, "val_mean": 50.0, "val": {"max@32": 50.0}})
        found = write_search(run, iterations=1)
    assert generate_report(tmp_path / "run").sections == ["summary", "training", "search"]  # no mathtext error
    path = tmp_path / "run" / "search" / "iter_001" / "archive.json"
    data = json.loads(path.read_text())
    data["entries"][0]["acc"] = float("nan")
    path.write_text(json.dumps(data))  # json writes NaN, which json.loads accepts
    report = generate_report(tmp_path / "run")
    assert "search" not in report.sections and "non-finite" in report.problems[0] and found


def test_a_torn_last_metrics_line_is_ignored(tmp_path):
    with write_run(tmp_path / "run") as run:
        write_training(run)
    with open(tmp_path / "run" / "train" / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"phase": "depth", "epo')  # a live trainer mid-write
    assert generate_report(tmp_path / "run").sections == ["summary", "training"]


def test_not_a_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match="not a natv2 run directory") as info:
        build_report(tmp_path / "empty")
    assert "config.yaml" in info.value.fix
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        build_report(tmp_path / "file.txt")
    rc, out, err = _cli("report", str(tmp_path / "empty"))
    assert rc == 2 and "not a natv2 run directory" in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "empty" / "report").exists()
    rc, out, err = _cli("report")
    assert rc == 2 and "no run directory given" in err


# ----------------------------------------------------------------------------- CLI, rebuilds, pieces
def test_cli_out_folder_keeps_links_working(full_run, tmp_path):
    out_dir = tmp_path / "elsewhere" / "rep"
    rc, out, err = _cli("report", str(full_run), "--out", str(out_dir))
    assert rc == 0, err
    assert f"report: {out_dir / 'index.html'}" in out
    html = (out_dir / "index.html").read_text(encoding="utf-8")
    refs = [unquote(v) for k, v in parse(html).refs if not v.startswith("#")]
    assert refs and all((out_dir / r).resolve().is_file() for r in refs)
    assert not (full_run / "report").exists()


def test_a_published_copy_stands_alone_and_shows_no_machine_path(full_run, tmp_path):
    """A report committed or mailed without its run directory: every reference is its own figure, and neither
    the run's absolute path nor the home folder appears (issue 22)."""
    out_dir = tmp_path / "published"
    rc, _, err = _cli("report", str(full_run), "--out", str(out_dir), "--publish")
    assert rc == 0, err
    html = (out_dir / "index.html").read_text(encoding="utf-8")
    refs = [unquote(v) for k, v in parse(html).refs if not v.startswith("#")]
    assert refs and all(r.startswith("figures/") and (out_dir / r).is_file() for r in refs)
    assert str(full_run.resolve()) not in html and str(Path.home()) not in html
    assert "model.onnx" in html  # the exported files are still named
    from natv2.report.build import _without_machine_paths

    page = ('<svg xmlns="http://www.w3.org/2000/svg">source /srv/data/runs/src/train/supernet.safetensors, '
            f'run {full_run.resolve()}/models, figures/a.png, search/iter_001/archive.json</svg>')
    assert _without_machine_paths(page, full_run) == (
        '<svg xmlns="http://www.w3.org/2000/svg">source …/train/supernet.safetensors, '
        f'run {full_run.resolve().name}/models, figures/a.png, search/iter_001/archive.json</svg>')


def test_rebuilding_after_a_stage_disappears_drops_its_stale_figures(full_run):
    first = generate_report(full_run)
    assert (full_run / "report" / "figures" / "hypervolume.png").exists()
    shutil.rmtree(full_run / "search")
    second = generate_report(full_run)
    assert "search" not in second.sections and not (full_run / "report" / "figures" / "hypervolume.png").exists()
    assert {p.name for p in second.figures} < {p.name for p in first.figures}
    assert not list((full_run / "report").rglob("*.tmp"))  # atomic writes leave no temp files


def test_front_axes_are_fixed_across_iterations(built):
    from natv2.report.files import RunFiles
    from natv2.report.load import load_search

    search = load_search(RunFiles.open(built[0]))
    assert [it.index for it in search.iterations] == [0, 1, 2, 3]
    for objective, scale in (("params", 1e-6), ("macs", 1e-6)):
        lim = fixed_limits(search, objective)
        for it in search.iterations:  # every point of every iteration inside the one shared box
            for e in it.archive:
                assert lim.x[0] < e.costs[objective] * scale < lim.x[1]
                assert lim.y[0] < 100 * e.acc < lim.y[1]
        first = [e.costs[objective] * scale for e in search.iterations[0].archive]
        later = [e.costs[objective] * scale for it in search.iterations for e in it.archive]
        assert (lim.x[1] - lim.x[0]) >= (max(later) - min(later)) >= (max(first) - min(first))


def test_stage_timings_sum_sessions_and_attribute_gaps():
    ev = lambda ts, stage, event: {"ts": f"2025-01-01T00:{ts}+00:00", "stage": stage, "event": event, "data": {}}  # noqa: E731
    events = [ev("00:00", "run", "created"), ev("00:10", "train", "phase_start"), ev("01:00", "train", "epoch_end"),
              ev("02:00", "search", "iteration_done"), ev("03:00", "run", "resumed"), ev("03:30", "search", "done"),
              ev("04:00", "finetune", "subnet_done")]
    t = {s.stage: s for s in stage_timings(events)}
    assert t["train"].seconds == 60 and not t["train"].done and t["train"].sessions == 1
    assert t["search"].seconds == 60 + 30 and t["search"].done and t["search"].sessions == 2
    assert t["finetune"].seconds == 30


# ----------------------------------------------------------------------------- a real browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _headless(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Open `page` in headless Chromium with `args` (e.g. --screenshot=..., --dump-dom); skip without it."""
    browser = _chromium()
    if browser is None:
        print("chromium is not installed (apt-get install chromium): the headless rendering check is skipped")
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120)


def test_page_renders_in_headless_chromium(built, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    proc = _headless(built[1].index, f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert img.shape == (2400, 1280)
    assert img.std() > 20  # text, tables and figures, not a blank page
    dark_rows = (img < 128).any(axis=1).mean()
    assert dark_rows > 0.3, "most of the page is empty"


def _svg_charts(html: str) -> list[str]:
    return re.findall(r'<svg class="front-svg".*?</svg>', html, flags=re.S)


def _svg_points(html: str) -> list[tuple[str, str | None]]:
    """(title text, link or None) of every point of the inline SVG fronts."""
    out = []
    for chart in _svg_charts(html):
        for link, title in re.findall(r'(?:<a href="([^"]*)">)?<circle[^>]*><title>(.*?)</title>', chart, flags=re.S):
            out.append((html_lib.unescape(title), link or None))
    return out


def _x_title(chart: str) -> str:
    """The cost axis title of one chart (the text element below the plot)."""
    return html_lib.unescape(re.findall(r'<text [^>]*class="label"[^>]*>(.*?)</text>', chart)[0])


def test_the_final_front_is_an_inline_svg_per_cost_whose_points_say_what_they_are(built):
    root, _, html = built
    charts = _svg_charts(html)
    search = json.loads((root / "search" / "config.json").read_text())
    costs = search["objectives"][1:]
    assert len(charts) == len(costs) >= 2
    assert [_x_title(c) for c in charts] == ["params", "MACs"]  # 3M..9M and 40M..130M: linear, SI ticks
    assert all('data-log-x="false"' in c for c in charts) and ">4M</text>" in charts[0]
    assert html.index('class="front-svg"') < html.index("front_params_overlay.png")  # above the PNG figures
    front = json.loads((root / "search" / "non_dominated.json").read_text())["entries"]
    points = _svg_points(html)
    assert len(points) == len(front) * len(costs)
    from natv2.space import SubnetConfig

    for entry in front:
        cfg = SubnetConfig.from_dict(entry["config"])
        titles = [t for t, _ in points if t.splitlines()[0] == cfg.file_stem()]
        assert len(titles) == len(costs) and len(set(titles)) == 1, cfg.file_stem()
        lines = titles[0].splitlines()
        acc = entry["acc"] if "acc" in entry else 1 - entry["objectives"]["err"]
        assert f"top-1 val: {100 * acc:,.2f} %" in lines and "test:" not in titles[0]  # no final_test.json here
        assert f"params: {entry['objectives']['params'] * 1e-6:,.2f} M" in lines  # the report's units
        assert f"MACs: {entry['objectives']['macs'] * 1e-6:,.1f} M" in lines
        assert lines[1].startswith(f"{cfg.r} px, width 1, ")
        stages = [line for line in lines if line.startswith("stage ")]
        assert len(stages) == cfg.n_active_stages
        idx = [i for s, _, i in cfg.active_layers() if s == 0]
        assert stages[0] == (f"stage 1: depth {cfg.d[0]}, kernels {[cfg.ks[i] for i in idx]}, "
                             f"expand {[cfg.e[i] for i in idx]}")


def test_every_point_link_selects_a_models_table_row(built):
    root, _, html = built
    ids = parse(html).ids
    links = {link for _, link in _svg_points(html) if link}
    assert links, "no front point links to a fine-tuned model"
    for link in links:
        assert re.fullmatch(r"#model-[A-Za-z0-9_.-]+", link) and link[1:] in ids, link
    rows = re.findall(r'<tr[^>]* id="(model-[^"]*)"', html)
    assert len(rows) == len(set(rows)) == len(json.loads((root / "models" / "export.json").read_text())["models"])
    # every model on the front is linked, the one with a hostile folder name too (its id keeps safe characters)
    assert links == {f"#{r}" for r in rows} and "#model-img-src-x-onerror-alert-1" in links
    assert "tr:target" in html  # the selected row is highlighted
    commands = [html_lib.unescape(c) for c in re.findall(r"<code>(natv2 predict .*?)</code>", html)]
    assert len(commands) == len(rows)
    for command in commands:  # pastes into a shell as is: the folder is one quoted argument, and it exists
        argv = shlex.split(command)
        assert argv[:2] == ["natv2", "predict"] and argv[3:] == ["IMAGE"] and len(argv) == 4, command
        assert Path(argv[2]).is_dir() and Path(argv[2]).parent == (root / "models").resolve()


def test_a_cost_spanning_orders_of_magnitude_gets_a_log_axis():
    from natv2.report.svg import MAX_TICKS, Point, axis_for, front_chart, short

    wide, narrow = axis_for([4e4, 6.4e6]), axis_for([2e5, 9e5])
    assert wide.log and not narrow.log
    assert not axis_for([1.0, 9.9]).log and axis_for([1.0, 10.5]).log  # the rule: max / min > 10
    assert wide.lo < 4e4 and wide.hi > 6.4e6 and 0.0 < wide.unit(4e4) < wide.unit(6.4e5) < wide.unit(6.4e6) < 1.0
    assert abs(wide.unit(4e5) - (wide.unit(4e4) + wide.unit(4e6)) / 2) < 1e-9  # equal ratios, equal distances
    assert [short(v) for v in wide.ticks()] == ["50k", "100k", "200k", "500k", "1M", "2M", "5M"]
    assert abs(narrow.unit(5.5e5) - (narrow.unit(2e5) + narrow.unit(9e5)) / 2) < 1e-9  # linear: equal steps
    assert all(narrow.lo <= t <= narrow.hi for t in narrow.ticks()) and 3 <= len(narrow.ticks()) <= MAX_TICKS
    assert not axis_for([0.0, 5.0]).log  # a zero cost cannot go on a log axis
    assert not axis_for([5.0, 80.0], allow_log=False).log  # accuracy: always linear
    huge = axis_for([1e2, 1e12])
    assert huge.log and 2 <= len(huge.ticks()) <= MAX_TICKS  # thinned, not 30 overlapping labels
    chart = front_chart([Point(4e4, 50.0, "a"), Point(6.4e6, 70.0, "b", "#model-b")], "params", "top-1", "c")
    assert "params (log scale)" in chart and 'data-log-x="true"' in chart and '<a href="#model-b">' in chart


def _write_search_only(root: Path, n: int = 6) -> list[dict]:
    """A search that wrote only its final files, with a latency objective and a final test (the search stage's
    search/final_test.json format), and no iteration folders."""
    objectives = ["err", "params", "macs", "latency"]
    space = SearchSpace.from_dict({"r": [24, 32], "w": [1.0]})
    rng = np.random.default_rng(1)
    configs = list(dict.fromkeys(space.sample(rng) for _ in range(4 * n)))[:n]
    entries = [ArchiveEntry(c, 0.5 + 0.05 * k, (4e4 * 150 ** (k / (n - 1)), 3e7 + 4e6 * k, 1.0 + 0.5 * k), 1, 1)
               for k, c in enumerate(configs)]
    write_run(root).close()
    atomic_write_json(root / "search" / "config.json", {"format": 1, "objectives": objectives, "space": space.to_dict(),
                                                        "search": {"objectives": objectives}})
    atomic_write_json(root / "search" / "non_dominated.json", entries_to_json(entries, objectives))
    tested = [{"key": e.config.key, "name": e.config.file_stem(), "config": e.config.to_dict(),
               "objectives": e.objectives(objectives), "val_acc": e.acc, "test_acc": e.acc - 0.03, "in_front": True,
               "high_tradeoff": False} for e in entries]
    atomic_write_json(root / "search" / "final_test.json", {"split": "test", "objectives": objectives, "entries": tested})
    return tested


def test_every_cost_gets_a_chart_with_latency_test_top1_and_a_log_axis_where_it_spans_decades(tmp_path):
    tested = _write_search_only(tmp_path / "run")
    html = generate_report(tmp_path / "run").index.read_text(encoding="utf-8")
    charts = _svg_charts(html)
    assert [_x_title(c) for c in charts] == ["params (log scale)", "MACs", "latency (ms)"]
    assert ['data-log-x="true"' in c for c in charts] == [True, False, False]
    assert ">100k</text>" in charts[0] and ">1M</text>" in charts[0]
    points = _svg_points(html)
    assert len(points) == 3 * len(tested)
    for e in tested:
        lines = [t for t, _ in points if t.splitlines()[0] == e["name"]][0].splitlines()
        assert f"latency: {e['objectives']['latency']:,.2f} ms" in lines
        assert f"top-1 val: {100 * e['val_acc']:,.2f} %, test: {100 * e['test_acc']:,.2f} %" in lines
    assert all(link is None for _, link in points)  # no models table, so nothing to link to


def test_the_svg_fronts_render_in_headless_chromium(built):
    proc = _headless(built[1].index, "--dump-dom")
    dom = proc.stdout
    assert proc.returncode == 0 and "Uncaught" not in proc.stderr, proc.stderr[-2000:]
    assert dom.count('class="front-svg"') == built[2].count('class="front-svg"') >= 2
    assert dom.count("<circle") == built[2].count("<circle")  # every point made it into the document
    assert len(_svg_points(dom)) == len(_svg_points(built[2]))  # each with its hover title, parsed as SVG
    dom_ids = parse(dom).ids
    targets = {link[1:] for _, link in _svg_points(dom) if link}
    assert targets and targets <= dom_ids  # the browser finds the row each point selects


# ----------------------------------------------------------------------------- the real search writer
@pytest.mark.slow
def test_report_on_the_output_of_a_real_random_search(tmp_path):
    """run_search writes search/ itself (no config.yaml): the report reads it as is, and explains the
    missing surrogate of a random search."""
    from natv2.search import SearchConfig, run_search

    def evaluate(cfgs):
        return [_acc(c) for c in cfgs]

    cfg = SearchConfig(policy="random", objectives=("err", "params", "macs"), seed=0, archive_size=12,
                       candidates_per_iter=4, iterations=2, top_n=6, preprocess_multiplier=0)
    run_search({"r": [32, 40], "w": [1.0], "n_classes": 10}, evaluate, cfg, run_dir=tmp_path)
    report = generate_report(tmp_path)
    assert report.sections == ["summary", "search"] and not report.problems
    html = report.index.read_text(encoding="utf-8")
    assert "No surrogate quality to show: the candidates were drawn at random" in html
    assert {"front_params_grid.png", "front_macs_overlay.png", "hypervolume.png"} <= {p.name for p in report.figures}
    history = json.loads((tmp_path / "search" / "history.json").read_text())["iterations"]
    assert f"{history[-1]['hv']:.4f}" in html
