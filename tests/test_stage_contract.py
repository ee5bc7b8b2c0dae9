"""Issue 23: every stage is `run(ctx: StageContext) -> Outcome[T]` in its own package, and the pipeline
(natv2 run and each stage command) drives exactly those functions."""

from __future__ import annotations

import importlib
import inspect
import json
import typing

import pytest

from natv2.pipeline.run import STAGES
from natv2.stage import Outcome, StageContext

STAGE_PACKAGES = ("train", "search", "finetune", "export", "report")


@pytest.mark.parametrize("package", STAGE_PACKAGES)
def test_every_stage_has_the_one_signature(package):
    run = importlib.import_module(f"natv2.{package}.stage").run
    sig = inspect.signature(run)
    assert list(sig.parameters) == ["ctx"]
    hints = typing.get_type_hints(run)
    assert hints["ctx"] is StageContext
    assert typing.get_origin(hints["return"]) is Outcome


def test_the_pipeline_runs_the_stage_functions_in_order():
    assert [s.name for s in STAGES] == list(STAGE_PACKAGES)
    for stage in STAGES:
        assert stage.runner.__qualname__ == f"natv2.{stage.name}.stage.run"


# ---------------------------------------------------------------------- producer-owned outputs
SRC = __import__("pathlib").Path(__file__).resolve().parents[1] / "src" / "natv2"


def test_a_fine_tuned_models_record_is_read_only_through_its_class():
    """models/<name>/finetune.json has one owner (natv2.finetune.result.FineTuneResult), and so has the summary
    models/finetune.json (FineTuneSummary): no other module names the record's file, and no module outside the
    finetune package indexes a result's score dictionaries or the summary's lists by key."""
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel.startswith("finetune/") or rel == "io/artifacts.py":
            continue
        assert "FINETUNE_RESULT" not in text, f"{rel} names the fine-tuning record's file; use FineTuneResult"
        for key in ('get("after"', 'get("before"', '["after"]', '["before"]'):
            assert key not in text, f"{rel} indexes a fine-tuning result by key ({key}); use FineTuneResult"
        for key in ('get("subnets")', '["subnets"]', 'get("skipped")', '["skipped"]', "s.get('reason')"):
            assert key not in text, f"{rel} indexes the fine-tuning summary by key ({key}); use FineTuneSummary"


def test_the_export_summary_is_read_only_through_its_class():
    """models/export.json and each model's meta.json have one reader for the rest of natv2 (natv2.export.record:
    ExportSummary, ModelMeta): no module outside the export package indexes them by key."""
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("export/") or rel == "io/artifacts.py":
            continue
        text = path.read_text(encoding="utf-8")
        for key in ('get("latency_ms"', 'get("max_abs_diff"', '["max_abs_diff"]', '["latency_ms"]', 'ex["models"]',
                    'get("models")'):
            assert key not in text, f"{rel} indexes export.json by key ({key}); use ExportSummary / ExportedModel"
        for key in ("(row.meta or {})", "row.meta[", "meta.get(\"latency\")", "meta.get(\"files\")"):
            assert key not in text, f"{rel} indexes a model's meta.json by key ({key}); use natv2.export.record.ModelMeta"


def test_the_search_outputs_are_read_only_through_its_record():
    """What the search leaves (search/config.json, each iteration's archive, front and stats, the final front,
    picks and test) has one reader for the rest of natv2 (natv2.search.record, torch-free): no module outside
    the search package names those files or indexes them by key."""
    import re

    names = re.compile(r"\b(?:REL_)?(?:SEARCH_CONFIG|SEARCH_HISTORY|NON_DOMINATED|HIGH_TRADEOFF|FINAL_TEST|FINAL_ARCHIVE"
                       r"|ITER_ARCHIVE|ITER_FRONT|ITER_STATS)\b")
    keys = re.compile(r"""get\(["'](?:hv|hv_ref|hv_bounds|n_archive|n_front|n_evaluations|candidate_source|test_acc|"""
                      r"""timings|surrogate)["']|\[["'](?:hv|hv_ref|hv_bounds|test_acc)["']\]|"""
                      r"\bit\.stats(?:\.get\(|\[)|\bsearch\.settings(?:\.get\(|\[)")
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("search/") or rel == "io/artifacts.py":
            continue
        text = path.read_text(encoding="utf-8")
        found = names.search(text)
        assert found is None, f"{rel} names a search output ({found.group(0)}); use natv2.search.record"
        found = keys.search(text)
        assert found is None, f"{rel} indexes a search output by key ({found.group(0)}); use natv2.search.record"


def test_a_search_record_reads_what_the_search_writes_and_names_a_damaged_file(tmp_path):
    from natv2.report.files import RunFiles
    from natv2.search.record import FRONT, SearchFileError, SearchRecord, SearchSettings

    (tmp_path / "search" / "iter_000").mkdir(parents=True)
    entry = {"config": {"r": 32}, "objectives": {"err": 0.25, "params": 1000.0}, "iteration": 0}
    doc = {"objectives": ["err", "params"], "entries": [entry]}
    for name in ("archive.json", "front.json"):
        (tmp_path / "search" / "iter_000" / name).write_text(json.dumps(doc))
    (tmp_path / "search" / "iter_000" / "stats.json").write_text(json.dumps(
        {"hv": 0.5, "n_archive": 1, "surrogate": None, "best": {"err": 0.25}, "timings": {"emo": 1.5, "x": "?"}}))
    (tmp_path / "search" / "config.json").write_text(json.dumps(
        {"objectives": ["err", "params"], "search": {"policy": "natv2", "hv_ref": 1.1, "hv_bounds": {"err": [0, 1]}}}))
    record = SearchRecord.read(RunFiles(tmp_path))
    it = record.iterations[0]
    assert (it.archive[0].acc, it.archive[0].costs, it.archive[0].name) == (0.75, {"params": 1000.0}, "subnet")
    assert (it.stats.hv, it.stats.n_archive, it.stats.n_front, it.stats.best_err) == (0.5, 1, None, 0.25)
    assert it.stats.timings == {"emo": 1.5} and it.stats.surrogate.kendall is None and not it.stats.adapted
    assert record.settings == SearchSettings("natv2", hv_ref=1.1, hv_bounds={"err": (0.0, 1.0)})
    assert record.final_front is None and record.test_top1 == {} and SearchSettings.from_dict({}) is None
    (tmp_path / FRONT).write_text(json.dumps({"objectives": ["err", "params"], "entries": [{"config": {}}]}))
    with pytest.raises(SearchFileError, match="entry 0 is incomplete") as info:
        SearchRecord.read(RunFiles(tmp_path))
    assert info.value.rel == FRONT


def test_an_export_summary_round_trips_and_damage_is_a_clear_error(tmp_path):
    from natv2.errors import RunDirError
    from natv2.export.record import ExportedModel, ExportSummary, Int8Summary

    int8 = Int8Summary("model.int8.onnx", "per_channel", "test", 0.8, 0.79, 0.97, {"float": {"64": 2.0}, "int8": {"64": 1.0}},
                       {"64": 2.0}, True, {"cpu": "x"}, {"HardSigmoid": 3}, {"split": "train", "images": 512})
    summary = ExportSummary([ExportedModel("a", "a", "single", {"onnx": "model.onnx"}, 10, 20, {"top1": 0.8}, 1.5, 1e-6, int8),
                             ExportedModel("b", "b")], 1e-4)
    summary.write(tmp_path)
    assert ExportSummary.read(tmp_path) == summary
    (tmp_path / "export.json").write_text('{"models": [{"name": "x"}]}')
    with pytest.raises(RunDirError, match="has no folder"):
        ExportSummary.read(tmp_path)


def test_a_fine_tune_result_round_trips_and_a_foreign_file_is_a_clear_error(tmp_path):
    from natv2.errors import RunDirError
    from natv2.finetune.result import FineTuneResult, FineTuneSummary, SkippedJob

    doc = {"name": "r32-w1-x1-abc", "variant": "single", "subnet": {"r": 32}, "supernet": "ofav2_ee_d", "n_classes": 10,
           "resolution": 32, "params": 1000, "macs": 20000, "e_star": 3, "search": {"iteration": 2},
           "before": {"test": {"top1": 0.5}}, "after": {"test": {"top1": 0.6}}, "seconds": {"total": 4.0}}
    folder = tmp_path / "models" / doc["name"]
    folder.mkdir(parents=True)
    FineTuneResult.write(folder, doc, history=[{"epoch": 1}])
    got = FineTuneResult.read(folder)
    assert (got.test_after["top1"], got.test_before["top1"], got.search_iteration, got.seconds_total) == (0.6, 0.5, 2, 4.0)
    assert got.to_dict() == doc and FineTuneResult.folders(tmp_path / "models") == [folder]
    with pytest.raises(RunDirError, match="not a fine-tuning result"):
        FineTuneResult.write(folder, {"name": "x"}, history=[])
    summary = FineTuneSummary.from_dict({"subnets": [doc], "skipped": [{"name": "a", "variant": "aep", "reason": "nd=1"}]})
    assert summary.results == [got] and summary.skipped == [SkippedJob("a", "aep", "nd=1")]
    for bad, problem in (({"subnets": {}}, "has no 'subnets' list"), ({"subnets": [{"variant": "single"}]}, "subnet 0 has no name")):
        with pytest.raises(RunDirError) as info:
            FineTuneSummary.from_dict(bad)
        assert info.value.problem == problem


def test_the_report_reads_a_run_without_torch():
    """The report is built from files alone (a machine without torch's weight could render it)."""
    import subprocess
    import sys

    code = "import sys, natv2.report.build, natv2.report.sections; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_the_training_state_is_read_through_its_class_and_old_files_still_load(tmp_path):
    """train's checkpoint state.json has one owner (natv2.train.state.TrainState): a state written before the
    class existed loads, a foreign one is a clear error, and no module outside train/ indexes its keys."""
    from natv2.errors import CheckpointError
    from natv2.train.state import TrainState

    old = {"version": 1, "phase_index": 2, "phase": "exit_1", "epochs_done": 1, "phase_complete": True,
           "phases": ["full", "kernel", "exit_1"], "seed": 0, "best": {"full": {"metric": 40.0, "epoch": 3}},
           "model_file": "model-p02e0001.safetensors", "optim_file": None, "optim_meta": None}
    state = TrainState.from_dict(old)
    assert (state.phase, state.epochs_done, state.finished) == ("exit_1", 1, False)  # the file names are the store's
    # version 1 held the best top-1 in percent: read as a fraction and written back as version 2
    assert state.best == {"full": {"metric": 0.4, "epoch": 3}} and state.version == 2
    assert state.to_dict() == {**{k: v for k, v in old.items() if k not in ("model_file", "optim_file", "optim_meta")},
                               "version": 2, "best": {"full": {"metric": 0.4, "epoch": 3}}}
    assert TrainState.from_dict(state.to_dict()).best == state.best  # version 2 is read as it is
    with pytest.raises(CheckpointError, match="different training setup"):
        state.check_setup(["full"], 0, "here", "fix")
    with pytest.raises(CheckpointError, match="not a natv2 training state"):
        TrainState.from_dict({"iteration": 3})
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("train/"):
            continue
        text = path.read_text(encoding="utf-8")
        for key in ('state["model_file"]', "state['model_file']", 'get("epochs_done")', "get('epochs_done')"):
            assert key not in text, f"{rel} indexes the training state by key ({key}); use TrainState"


def test_training_metrics_are_read_outside_train_only_through_epoch_record():
    """train/metrics.jsonl has one reader for the rest of natv2 (natv2.train.metrics.EpochRecord, which also owns
    the unit conversion): no module outside train/ indexes a metrics record by key."""
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("train/"):
            continue
        text = path.read_text(encoding="utf-8")
        for key in ('get("val_mean"', '["val_mean"]', 'get("phase_eval"', '["phase_eval"]', 'get("train_s"',
                    'get("images_per_s"'):
            assert key not in text, f"{rel} indexes a training metrics record by key ({key}); use EpochRecord"


def test_the_trained_supernets_meta_is_read_outside_train_only_through_its_class():
    """The meta saved with the trained supernet (its description beside the weights) has one reader for the rest
    of natv2 (natv2.train.supernet_meta.SupernetMeta, torch-free), which the trainer also writes it with: no module
    outside train/ and supernets/ (the description's format) names the description or indexes that meta by key."""
    import re

    from natv2.train.supernet_meta import SupernetMeta

    meta = SupernetMeta("ofav2_ee_b", 1.0, 10, "cifar10", ["a", "b"], 0, None)
    assert SupernetMeta.from_description({"format": "f", "arch": {}, "meta": meta.to_dict()}) == meta
    assert list(meta.to_dict())[:4] == ["supernet", "width_mult", "n_classes", "dataset"]
    assert SupernetMeta.from_description({"supernet": "x"}) is None  # not a description: no meta in it
    pattern = re.compile(r"""REL_TRAINED_SUPERNET\s*\+\s*["']\.json|\(meta or \{\}\)\.get\(|(?<![\w.])meta(?:\[|\.get\()"""
                         r"""["'](?:supernet|width_mult|n_classes|dataset|class_names|seed|phases|best)["']""")
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("train/", "supernets/")) or rel in ("io/artifacts.py", "measure/lut.py"):  # lut: its own meta
            continue
        found = pattern.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{rel} reads the trained supernet's meta by key ({found.group(0)}); use SupernetMeta"


def test_training_accuracies_are_fractions_and_percent_era_records_still_read(tmp_path):
    """Evaluation speaks fractions everywhere (percent is for display): metrics records say so, and a record
    written before (percent, no unit) is converted when read, by the trainer's log and by the report alike."""
    import json

    from natv2.train.metrics import ACCURACY_UNIT_KEY, EpochRecord, MetricsLog

    path = tmp_path / "metrics.jsonl"
    old = {"phase": "full", "phase_index": 0, "epoch": 0, "val_mean": 40.0, "val": {"max@32": 50.0},
           "phase_eval": {"split": "test", "acc": {"max@32": 60.0}, "max": 60.0, "min": 20.0, "random_mean": None}}
    path.write_text(json.dumps(old) + "\n")
    log = MetricsLog(path)
    log.append({"phase": "full", "phase_index": 0, "epoch": 1, "val_mean": 0.45, "val": {"max@32": 0.55}})
    old_read, new_read = log.read()
    assert old_read["val_mean"] == pytest.approx(0.4) and old_read["val"] == {"max@32": pytest.approx(0.5)}
    assert old_read["phase_eval"]["max"] == pytest.approx(0.6) and old_read["phase_eval"]["random_mean"] is None
    assert new_read["val_mean"] == 0.45 and json.loads(path.read_text().splitlines()[1])[ACCURACY_UNIT_KEY] == "fraction"
    typed = EpochRecord.from_dict(old, "line 1")  # the reader outside train/: the same conversion
    assert typed.val_mean == pytest.approx(0.4) and typed.phase_eval is not None and typed.phase_eval.max == pytest.approx(0.6)
