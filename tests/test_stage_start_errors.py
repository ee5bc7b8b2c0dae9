"""Every error a stage can raise at its start from its settings is raised first when the config is resolved
(issue 22, item 3), so `natv2 config show` and `natv2 run` refuse it before anything is written.

Two halves:

1. `ROWS`: one row per such error. A row is the bad setting as `--set` overrides (on a preset) and the text
   that `natv2.pipeline.config.resolve_config` refuses it with. That function is the one `natv2 config show`
   and `natv2 run` call (`test_cli_refuses_before_anything_is_written` runs two rows through the CLI). Each row
   only resolves a config: no data is loaded and nothing is trained.
2. The static walk. `START_PATH` lists, per stage, the functions the stage runs before its expensive work:
   its `run(ctx)`, and the functions it calls to resolve settings, the supernet, the objectives and so on.
   `ast` finds every `raise` in those functions. Each one must be claimed by exactly one entry (a needle: a
   piece of the raise statement's source):
   - `COVERED`: the rows whose setting triggers it. Resolution refuses the same setting first, often in the
     same function, since the stage and resolution share one validator.
   - `RUNTIME`: a kind from `KINDS` saying why only a running stage can know it (the data, the run
     directory, the machine ...). docs/reliability.md lists the kinds with their errors.
   A new raise in one of these functions fails the test until it is classified. So does an entry that no
   longer matches a raise, and a row that no raise claims. The walk reads raise statements, not the call
   graph: a function the stages start to call must be added to `START_PATH` by hand. The list stops at the
   data package (`natv2.data`), whose errors are all about the data it finds on disk (`data` below);
   `check_data` refuses the `data.*` settings themselves.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from natv2.cli.main import main
from natv2.errors import NatError
from natv2.pipeline.config import resolve_config

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    """A setting a stage would refuse at its start; `{files}` in a setting is the folder of `files`."""

    id: str
    settings: tuple[str, ...]
    error: str
    preset: str = "smoke"


T = "search.objectives=[err,lut_latency]"
SOURCE = "train.source={files}/"
ROWS = [
    # train: recipe, phases, the supernet family and its space
    Row("recipe-unknown", ("train.recipe=epss",), "'train.recipe' = \"epss\""),
    Row("epochs-scale", ("train.epochs_scale=0",), "'train.epochs_scale' = 0.0"),
    Row("phase-override-typo", ("train.phase_overrides.kernl.epochs=2",), "names phase(s) ['kernl'] that recipe 'eps'"),
    Row("only-phases-of-another-recipe", ("train.recipe=ps", "train.only_phases=[exit_1]"),
        "'train.only_phases' names phase(s) ['exit_1'] that recipe 'ps' does not have"),
    Row("phase-negative-epochs", ("train.phase_overrides.kernel.epochs=-1",), "'train.phase_overrides.kernel.epochs' = -1"),
    Row("phase-no-subnets", ("train.phase_overrides.kernel.subnets_per_step=0",), "subnets_per_step' = 0"),
    Row("supernet-unknown", ("train.supernet=ofav3",), "'train.supernet' = 'ofav3' is not a registered supernet"),
    Row("random-init-unknown", ("search_stage.random_init=nope",), "'search_stage.random_init' = 'nope'"),
    Row("train-space-field", ("train.space={q: [1]}",), "unknown search-space field(s) ['q']"),
    Row("train-space-width", ("train.width_mult=1.2", "train.space.w=[1.0]"), "width_mult 1.2 is not among the space's widths"),
    Row("train-space-nd", ("train.supernet=ofav2_se_d", "train.space={nd: [1]}"), "single-exit supernet has no early exits"),
    Row("train-space-nw", ("train.space={nw: [1]}",), "this supernet has no parallel blocks"),
    # train: a transfer source (transfer-smoke: train.recipe warmup)
    Row("source-missing", (SOURCE + "missing.safetensors",), "does not exist (looked for", "transfer-smoke"),
    Row("source-missing-random-init", (SOURCE + "missing", "search_stage.random_init=ofav2_ee_d"),
        "does not exist (looked for", "transfer-smoke"),
    Row("source-pth-missing", (SOURCE + "missing.pth",), "missing.pth' does not exist", "transfer-smoke"),
    Row("source-pth-damaged", (SOURCE + "bytes.pth",), "cannot read OFA checkpoint", "transfer-smoke"),
    Row("source-pth-foreign", (SOURCE + "plain.pth",), "is not an OFAMobileNetV3 checkpoint", "transfer-smoke"),
    Row("source-dir", (SOURCE + "empty",), "is a directory without a trained supernet", "transfer-smoke"),
    Row("source-no-json", (SOURCE + "nojson.safetensors",), "has no supernet description", "transfer-smoke"),
    Row("source-no-weights", (SOURCE + "noweights.json",), "noweights.safetensors are missing beside", "transfer-smoke"),
    Row("source-junk-json", (SOURCE + "junk.json",), "is not valid JSON", "transfer-smoke"),
    Row("source-json-list", (SOURCE + "list.json",), "its top level is a JSON list", "transfer-smoke"),
    Row("source-foreign-json", (SOURCE + "foreign.json",), "is not a natv2 supernet description", "transfer-smoke"),
    Row("source-subnet", (SOURCE + "subnet.json",), "is a natv2 subnet (one extracted network)", "transfer-smoke"),
    Row("source-malformed", (SOURCE + "malformed.json",), "malformed.json is malformed", "transfer-smoke"),
    Row("source-family", (SOURCE + "src.safetensors", "train.supernet=ofav2_ee_b"),
        "is a supernet of family 'ofav2_ee_d', but train.supernet is 'ofav2_ee_b'", "transfer-smoke"),
    Row("source-width", (SOURCE + "src.safetensors", "train.width_mult=1.2"), "has width multiplier 1.0", "transfer-smoke"),
    Row("source-never-trained", (SOURCE + "src.safetensors", "train.space.ks=[3,5,7]"), "never trained ks [7]",
        "transfer-smoke"),
    Row("source-drops-largest", (SOURCE + "src.safetensors", "train.space.ks=[3]"), "drops the source's largest ks (5)",
        "transfer-smoke"),
    # search: the space, the policy's switches, objectives, the latency table, the surrogate
    Row("search-space-dim", ("search_stage.space={nw: [1]}",), "search_stage.space sets 'nw'"),
    Row("search-space-value", ("search_stage.space={r: [99]}",), "search_stage.space.r=[99] is not within the supernet's r [16]"),
    Row("val-images", ("search_stage.val_images=0",), "'search_stage.val_images' = 0"),
    Row("policy-unknown", ("search.policy=nats",), "search option policy='nats' is not one of"),
    Row("policy-switch", ("search.repair=pull",), "search option repair='pull' is not one of"),
    Row("search-option-unknown", ("search.foo=1",), "unknown config key 'search.foo'"),
    Row("search-positive", ("search.emo_pop=0",), "search option emo_pop=0 must be >= 1"),
    Row("search-non-negative", ("search.iterations=-1",), "search option iterations=-1 must be >= 0"),
    Row("archive-size", ("search.archive_size=2",), "archive_size=2 is too small"),
    Row("preprocess-multiplier", ("search.preprocess_multiplier=1",), "preprocess_multiplier=1 samples no more"),
    Row("hv-ref", ("search.hv_ref=1.0",), "hv_ref=1.0 must exceed 1"),
    Row("hv-bounds", ("search.hv_bounds={params: [1, 0]}",), "must be [ideal, nadir] with nadir > ideal"),
    Row("objective-unknown", ("search.objectives=[err,latency_ms]",), "names ['latency_ms'], which natv2 does not know"),
    Row("objective-err-first", ("search.objectives=[params,err]",), "must start with 'err'"),
    Row("objective-repeated", ("search.objectives=[err,params,params]",), "repeat a name"),
    Row("lut-no-table", (T,), "objective 'lut_latency' needs a latency table"),
    Row("lut-table-missing", (T, "search_stage.latency_table={files}/missing.json"), "missing.json does not exist"),
    Row("lut-table-unreadable", (T, "search_stage.latency_table={files}/junk.json"), "junk.json cannot be read"),
    Row("lut-table-foreign", (T, "search_stage.latency_table={files}/foreign.json"), "is not a natv2 latency table"),
    Row("lut-table-format", (T, "search_stage.latency_table={files}/lut-format.json"), "has format 99, expected 1"),
    Row("lut-table-non-numeric", (T, "search_stage.latency_table={files}/lut-text.json"), "has a non-numeric entry"),
    Row("lut-table-uncovered", (T, "search_stage.latency_table={files}/lut-r32.json"),
        "does not cover the search's space: latency table has no entry for layer"),
    Row("surrogate-unknown", ("search.surrogate=lgbn",), "unknown surrogate 'lgbn'"),
    Row("surrogate-param", ("search.surrogate_params.leaves=8",), "surrogate 'lgbm' has no parameter(s) ['leaves']"),
    # finetune
    Row("finetune-variant", ("finetune.variants=[single,multi]",), "'finetune.variants[1]' = \"multi\""),
]
ROW_IDS = {row.id for row in ROWS}
assert len(ROW_IDS) == len(ROWS), "row ids are unique"

# Why a raise is left to the running stage (docs/reliability.md, "What only a running stage can know", names each
# kind in bold and lists its errors).
KINDS = {
    "data": "needs the dataset's contents (found, readable, its class count, split sizes, image size): known once it is loaded",
    "run directory": "depends on what the run directory holds when the stage starts (an earlier stage's results, "
                     "checkpoints, a search journal)",
    "file": "a file a setting names that the run (or another one) may still write; resolution reads it when it exists",
    "machine": "depends on the machine the stage runs on, and a config is resolved on other machines too "
               "(config show; the cifar10-gpu preset on a CPU machine)",
    "disk": "the file system refuses a write",
    "running": "happens while the stage computes (a diverged loss)",
    "not from settings": "a guard for library callers: the stage always passes a value that satisfies it, or an "
                         "earlier check refuses the same setting first (named in the entry)",
}


def _in(module: str, *names: str) -> list[str]:
    return [f"{module}:{name}" for name in names]


# Per stage: "module:qualname" of each function the stage runs before its expensive work ("driver": natv2 run's,
# before any stage).
START_PATH = {
    "driver": _in("natv2.pipeline.run", "config_change_policy"),
    "train": [
        *_in("natv2.train.stage", "run"),
        *_in("natv2.train.run", "train_supernet", "_transfer_source"),
        *_in("natv2.train.build", "resolve_checked_source", "build_supernet"),
        *_in("natv2.supernets.source", "resolve_source", "_from_run_dir", "_from_checkpoint", "_read_ofa_state", "_from_ofa",
             "_ofa_classes", "Source.check", "check_same_source"),
        *_in("natv2.supernets.checkpoint", "_read_json_object"),
        *_in("natv2.registry", "Registry.get"),
        *_in("natv2.supernets.registry", "resolve_space", "create"),
        *_in("natv2.train.recipes", "build_phases", "_recipe_rows", "check_phase_names", "_phase"),
        *_in("natv2.train.trainer", "SupernetTrainer.__init__", "SupernetTrainer.run", "SupernetTrainer._finished"),
        *_in("natv2.train.checkpoint", "CheckpointStore.read_state"),
        *_in("natv2.train.state", "TrainState.from_dict", "TrainState.check_setup"),
        *_in("natv2.device", "resolve_device"),
    ],
    "search": [
        *_in("natv2.search.stage", "run", "run_search_stage", "resolve_supernet", "_from_training_checkpoint",
             "_transferred_without_warmup", "narrowed_space_dict", "search_space", "resolve_search_config",
             "_evaluator_and_adapter", "_search"),
        *_in("natv2.supernets.checkpoint", "TrainedSupernet.given", "load_supernet"),
        *_in("natv2.search.loop", "run_search", "complete_config", "_objectives", "as_space", "_Search._check_run_dir"),
        *_in("natv2.search.config", "make_config", "make_config_from", "SearchConfig.__post_init__"),
        *_in("natv2.search.objectives", "resolve_objectives", "ObjectiveRegistry.build", "_lut_latency", "_measured_latency"),
        *_in("natv2.measure.lut", "LatencyTable.load", "LatencyTable.layer_latencies"),
        *_in("natv2.measure.accuracy", "SupernetEvaluator.__init__"),
        *_in("natv2.train.adapt", "SupernetAdaptation.__init__"),
        *_in("natv2.predictors.registry", "create"),
    ],
    "finetune": [
        *_in("natv2.finetune.stage", "run", "run_finetune_stage"),
        *_in("natv2.finetune.selection", "select_subnets", "_from_run", "read_candidates", "_entries", "parse_entry", "_match"),
        *_in("natv2.finetune.sources", "find_supernet"),
        *_in("natv2.finetune.build", "builder"),
    ],
    "export": [
        *_in("natv2.export.stage", "run", "run_export_stage", "_inherited_items"),
        *_in("natv2.export.runner", "export_finetuned"),
        *_in("natv2.export.exporter", "parity_device"),
    ],
    "report": [*_in("natv2.report.stage", "run"), *_in("natv2.report.build", "generate_report")],
}

# (function, needle) -> the rows whose setting triggers that raise.
COVERED: dict[tuple[str, str], tuple[str, ...]] = {
    ("natv2.supernets.source:resolve_source", "does not exist (looked for"): ("source-missing", "source-missing-random-init"),
    ("natv2.supernets.source:resolve_source", 'does not exist", _FIX_PATH'): ("source-pth-missing",),
    ("natv2.supernets.source:_from_run_dir", "directory without a trained supernet"): ("source-dir",),
    ("natv2.supernets.source:_from_checkpoint", "has no supernet description"): ("source-no-json",),
    ("natv2.supernets.source:_from_checkpoint", "are missing beside"): ("source-no-weights",),
    ("natv2.supernets.source:_from_checkpoint", "is {what}"): ("source-foreign-json", "source-subnet"),
    ("natv2.supernets.source:_from_checkpoint", "is malformed"): ("source-malformed",),
    ("natv2.supernets.checkpoint:_read_json_object", "is not valid JSON"): ("source-junk-json",),
    ("natv2.supernets.checkpoint:_read_json_object", "its top level is a JSON"): ("source-json-list",),
    ("natv2.supernets.source:_read_ofa_state", "cannot read OFA checkpoint"): ("source-pth-damaged",),
    ("natv2.supernets.source:_from_ofa", "is not an OFAMobileNetV3 checkpoint"): ("source-pth-foreign",),
    # raised inside _from_ofa's try, which turns it into the error above
    ("natv2.supernets.source:_ofa_classes", "holds no OFA classifier"): ("source-pth-foreign",),
    ("natv2.supernets.source:Source.check", "is a supernet of family"): ("source-family",),
    ("natv2.supernets.source:Source.check", "has width multiplier"): ("source-width",),
    ("natv2.supernets.source:Source.check", "never trained"): ("source-never-trained",),
    ("natv2.supernets.source:Source.check", "drops the source's largest"): ("source-drops-largest",),
    ("natv2.registry:Registry.get", "unknown {self.kind}"): ("supernet-unknown", "random-init-unknown", "surrogate-unknown",
                                                              "objective-unknown"),
    ("natv2.supernets.registry:resolve_space", "unknown search-space field"): ("train-space-field",),
    ("natv2.supernets.registry:resolve_space", "is not among the space's widths"): ("train-space-width",),
    ("natv2.supernets.registry:resolve_space", "has no early exits"): ("train-space-nd",),
    ("natv2.supernets.registry:resolve_space", "has no parallel blocks"): ("train-space-nw",),
    ("natv2.train.recipes:build_phases", "epochs_scale"): ("epochs-scale",),
    ("natv2.train.recipes:_recipe_rows", "unknown training recipe"): ("recipe-unknown",),
    ("natv2.train.recipes:check_phase_names", "names phase(s)"): ("phase-override-typo", "only-phases-of-another-recipe"),
    ("natv2.train.recipes:_phase", "negative epoch count"): ("phase-negative-epochs", "phase-no-subnets"),
    ("natv2.search.stage:narrowed_space_dict", "search_stage.space sets"): ("search-space-dim",),
    ("natv2.search.stage:narrowed_space_dict", "is not within the supernet's"): ("search-space-value",),
    ("natv2.search.config:make_config", "unknown search policy"): ("policy-unknown",),
    ("natv2.search.config:make_config_from", "unknown search option"): ("search-option-unknown",),
    ("natv2.search.config:SearchConfig.__post_init__", "is not one of"): ("policy-unknown", "policy-switch"),
    ("natv2.search.config:SearchConfig.__post_init__", "must be >= 1"): ("search-positive",),
    ("natv2.search.config:SearchConfig.__post_init__", "must be >= 0"): ("search-non-negative",),
    ("natv2.search.config:SearchConfig.__post_init__", "is too small"): ("archive-size",),
    ("natv2.search.config:SearchConfig.__post_init__", "samples no more"): ("preprocess-multiplier",),
    ("natv2.search.config:SearchConfig.__post_init__", "must start with 'err'"): ("objective-err-first",),
    ("natv2.search.config:SearchConfig.__post_init__", "repeat a name"): ("objective-repeated",),
    ("natv2.search.config:SearchConfig.__post_init__", "must exceed 1"): ("hv-ref",),
    ("natv2.search.config:SearchConfig.__post_init__", "[ideal, nadir]"): ("hv-bounds",),
    ("natv2.search.objectives:resolve_objectives", "must contain 'err' exactly once"): ("objective-err-first",),
    ("natv2.search.objectives:resolve_objectives", "repeat a name"): ("objective-repeated",),
    ("natv2.search.objectives:_lut_latency", "needs a latency table"): ("lut-no-table",),
    ("natv2.measure.lut:LatencyTable.load", "does not exist"): ("lut-table-missing",),
    ("natv2.measure.lut:LatencyTable.load", "cannot be read"): ("lut-table-unreadable",),
    ("natv2.measure.lut:LatencyTable.load", "is not a natv2 latency table"): ("lut-table-foreign",),
    ("natv2.measure.lut:LatencyTable.load", "has format"): ("lut-table-format",),
    ("natv2.measure.lut:LatencyTable.load", "non-numeric entry"): ("lut-table-non-numeric",),
    # a transfer search's resolutions follow from the data's image size: that table check waits for the search
    ("natv2.measure.lut:LatencyTable.layer_latencies", "has no entry for layer"): ("lut-table-uncovered",),
    ("natv2.measure.accuracy:SupernetEvaluator.__init__", "evaluates no image"): ("val-images",),
    ("natv2.predictors.registry:create", "has no parameter(s)"): ("surrogate-param",),
    ("natv2.finetune.build:builder", "unknown fine-tuning variant"): ("finetune-variant",),
}
# (function, needle) -> (kind of KINDS, the reason in a few words).
RUNTIME: dict[tuple[str, str], tuple[str, str]] = {
    ("natv2.pipeline.run:config_change_policy", "holds results of"): ("run directory", "results computed with the saved config"),
    ("natv2.pipeline.run:config_change_policy", "was started with a different config"): (
        "run directory", "the saved config differs"),
    ("natv2.train.run:train_supernet", "training_fix("): ("running", "a training phase diverged"),
    ("natv2.supernets.source:Source.check", "which the source supernet"): (
        "not from settings", "resolve_space refuses a dimension train.supernet's family lacks first (the source's family "
        "is train.supernet's, checked just before)"),
    ("natv2.supernets.source:check_same_source", "is not the one this run started from"): (
        "run directory", "the source file changed since the run recorded it"),
    ("natv2.supernets.registry:create", "n_classes must be positive"): ("data", "the class count is the dataset's (>= 2)"),
    ("natv2.train.trainer:SupernetTrainer.run", "has already finished"): ("run directory", "a finished training"),
    ("natv2.train.trainer:SupernetTrainer.run", "already holds a training checkpoint"): ("run directory", "a checkpoint"),
    ("natv2.train.trainer:SupernetTrainer._finished", "is gone"): ("run directory", "the trained supernet was removed"),
    ("natv2.train.checkpoint:CheckpointStore.read_state", "cannot read"): ("run directory", "a damaged checkpoint state"),
    ("natv2.train.state:TrainState.from_dict", "is not a natv2 training state"): ("run directory", "a damaged state"),
    ("natv2.train.state:TrainState.check_setup", "different training setup"): ("run directory", "another setup's checkpoint"),
    ("natv2.device:resolve_device", "sees no CUDA device"): ("machine", "run.device=cuda without a GPU"),
    ("natv2.search.stage:resolve_supernet", "classes, the data"): ("data", "the supernet's class count against the data's"),
    ("natv2.search.stage:resolve_supernet", "holds no trained supernet"): ("run directory", "training has not run"),
    ("natv2.search.stage:_search", "adaptation_fix("): ("running", "the adaptation diverged"),
    ("natv2.supernets.checkpoint:TrainedSupernet.given", "not found"): ("file", "search_stage.supernet / finetune.supernet"),
    ("natv2.supernets.checkpoint:load_supernet", "does not exist"): ("run directory", "the supernet checkpoint"),
    ("natv2.supernets.checkpoint:load_supernet", "is not a natv2 supernet description"): (
        "run directory", "a damaged checkpoint"),
    ("natv2.supernets.checkpoint:load_supernet", "is malformed"): ("run directory", "a damaged checkpoint"),
    ("natv2.search.loop:run_search", "adapter has no adapt"): ("not from settings", "the stage passes its adapter"),
    ("natv2.search.loop:complete_config", "third argument is a SearchConfig"): ("not from settings", "a SearchConfig"),
    ("natv2.search.loop:_objectives", "objective_fns names"): ("not from settings", "the stage passes no objective_fns"),
    ("natv2.search.loop:as_space", "must be a SearchSpace or a dict"): ("not from settings", "a SearchSpace"),
    ("natv2.search.loop:as_space", "unknown search-space key"): ("not from settings", "a SearchSpace"),
    ("natv2.search.loop:_Search._check_run_dir", "holds a search with other settings"): (
        "run directory", "a journal of other settings (config_change_policy refuses a changed config first)"),
    ("natv2.search.objectives:resolve_objectives", "is neither a name"): ("not from settings", "names from the config"),
    ("natv2.search.objectives:_measured_latency", "needs a supernet"): ("not from settings", "the stage passes its supernet"),
    ("natv2.measure.accuracy:SupernetEvaluator.__init__", "unknown split"): ("not from settings", "the stage's splits"),
    ("natv2.train.adapt:SupernetAdaptation.__init__", "smaller than one batch"): ("data", "the training split's size"),
    ("natv2.finetune.stage:run_finetune_stage", "classes but dataset"): ("data", "the class count of the data"),
    ("natv2.finetune.selection:select_subnets", "no subnets were selected"): ("run directory", "an empty archive"),
    ("natv2.finetune.selection:select_subnets", "no run directory and no archive"): ("not from settings", "the run directory"),
    ("natv2.finetune.selection:_from_run", "holds no search results"): ("run directory", "the search has not run"),
    ("natv2.finetune.selection:_from_run", "no high-trade-off picks"): ("run directory", "an unfinished search"),
    ("natv2.finetune.selection:read_candidates", "does not exist"): ("file", "finetune.archive"),
    ("natv2.finetune.selection:read_candidates", "is not valid JSON"): ("file", "finetune.archive"),
    ("natv2.finetune.selection:_entries", "holds no list of subnets"): ("file", "finetune.archive"),
    ("natv2.finetune.selection:parse_entry", "is not an object"): ("file", "finetune.archive"),
    ("natv2.finetune.selection:parse_entry", "{err.problem}"): ("file", "finetune.archive"),
    ("natv2.finetune.selection:_match", "of the archive"): ("run directory", "finetune.names against the search's archive"),
    ("natv2.finetune.sources:find_supernet", "holds no supernet checkpoint"): ("run directory", "no supernet yet"),
    ("natv2.finetune.build:builder", "no early exits to combine"): (
        "not from settings", "plan_jobs skips (and lists) the multi_exit job of a subnet without two exits"),
    ("natv2.export.stage:run_export_stage", "cannot be loaded here"): ("data", "export.int8 calibrates on the data"),
    ("natv2.export.runner:export_finetuned", "no fine-tuned models"): ("run directory", "finetune has not run"),
    ("natv2.export.exporter:parity_device", "sees no CUDA device"): ("machine", "export.parity_device=cuda without a GPU"),
    ("natv2.report.build:generate_report", "cannot create the report folder"): ("disk", "the report folder"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bad (and one good) transfer sources and latency tables for the rows."""
    import torch

    from natv2.measure.lut import distinct_layers
    from natv2.supernets import create, save_supernet
    from natv2.supernets.checkpoint import SUPERNET_FORMAT
    from natv2.supernets.registry import get_variant, resolve_space

    d = tmp_path_factory.mktemp("start-errors")
    save_supernet(create("ofav2_ee_d", 7, ks=[3, 5], r=[16]), d / "src")
    (d / "empty").mkdir()
    (d / "bytes.pth").write_text("not a torch file")
    torch.save({"w": torch.zeros(1)}, d / "plain.pth")
    docs = {"junk": "{not json", "list": "[1, 2]", "foreign": json.dumps({"hello": "world"}),
            "subnet": json.dumps({"format": "natv2-subnet"}), "malformed": json.dumps({"format": SUPERNET_FORMAT, "arch": {}})}
    for stem, text in docs.items():
        (d / f"{stem}.json").write_text(text)
        (d / f"{stem}.safetensors").write_bytes(b"")
    (d / "nojson.safetensors").write_bytes(b"")
    (d / "noweights.json").write_text(docs["foreign"])
    (d / "lut-format.json").write_text(json.dumps({"meta": {"format": 99}, "entries": {}}))
    (d / "lut-text.json").write_text(json.dumps({"meta": {"format": 1}, "entries": {"conv": "fast"}}))
    for r in (16, 32):
        space = resolve_space(get_variant("ofav2_ee_d"), 1.0, None, {"r": [r]})
        entries = {layer.key(): 1.0 for layer in distinct_layers("ofav2_ee_d", 10, space)}
        meta = {"format": 1, "arch": "ofav2_ee_d", "n_classes": 10, "width_mult": 1.0, "resolutions": [r]}
        (d / f"lut-r{r}.json").write_text(json.dumps({"meta": meta, "entries": entries}))
    return d


def _settings(row: Row, files: Path) -> list[str]:
    return [s.replace("{files}", str(files)) for s in row.settings]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_config_resolution_already_raises_what_a_stage_would_raise_at_its_start(row: Row, files: Path) -> None:
    with pytest.raises(NatError) as caught:
        resolve_config(preset=row.preset, overrides=_settings(row, files))
    assert row.error in str(caught.value), str(caught.value)
    assert caught.value.fix, "every refusal says what to do"


def test_a_latency_table_that_covers_the_search_is_accepted(files: Path) -> None:
    config = resolve_config(preset="smoke", overrides=[T, f"search_stage.latency_table={files}/lut-r16.json"])
    assert config.search.objectives == ("err", "lut_latency")


@pytest.mark.parametrize("row_id", ["lut-table-uncovered", "source-missing-random-init"])
def test_cli_refuses_before_anything_is_written(row_id: str, files: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    row = next(r for r in ROWS if r.id == row_id)
    settings = [arg for s in _settings(row, files) for arg in ("--set", s)]
    for command in (["config", "show"], ["run", "--run-dir", str(tmp_path / "run")]):
        status = main([*command, "--preset", row.preset, *settings])
        err = capsys.readouterr().err
        assert status == 2 and row.error in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists(), "a refused start writes nothing"


def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """run.device=cuda is left to the machine that runs the config ("machine"), and refused before the run directory opens."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["config", "show", "--preset", "smoke", "--set", "run.device=cuda"]) == 0
    status = main(["run", "--preset", "smoke", "--set", "run.device=cuda", "--run-dir", str(tmp_path / "run")])
    assert status == 2 and "torch sees no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- the static walk
def _function(ref: str) -> object:
    module, qualname = ref.split(":")
    obj: object = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _raise_sites() -> list[tuple[str, str]]:
    """(function, source of the raised expression) for every `raise X` in the functions of START_PATH."""
    sites = []
    for refs in START_PATH.values():
        for ref in refs:
            tree = ast.parse(textwrap.dedent(inspect.getsource(_function(ref))))
            sites += [(ref, ast.unparse(node.exc)) for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc]
    return sites


def test_every_raise_at_a_stage_start_is_covered_by_a_row_or_explained() -> None:
    assert not set(COVERED) & set(RUNTIME), "an error is either covered or left to the stage, not both"
    entries = {**COVERED, **RUNTIME}
    claimed: dict[tuple[str, str], int] = {key: 0 for key in entries}
    unclaimed = []
    for ref, text in _raise_sites():
        keys = [key for key in entries if key[0] == ref and key[1] in text]
        if len(keys) != 1:
            unclaimed.append(f"{ref}: raise {text[:120]} (claimed by {len(keys)} entries)")
        for key in keys:
            claimed[key] += 1
    assert not unclaimed, "classify each raise in COVERED (with a row) or RUNTIME (with its kind):\n" + "\n".join(unclaimed)
    stale = [key for key, n in claimed.items() if n == 0]
    assert not stale, f"entries that match no raise any more: {stale}"
    assert {kind for kind, _ in RUNTIME.values()} <= set(KINDS)
    used = {row for rows in COVERED.values() for row in rows}
    assert used <= ROW_IDS and ROW_IDS <= used, f"rows claimed by no raise: {ROW_IDS - used}; unknown: {used - ROW_IDS}"


def test_the_stage_entry_points_are_walked() -> None:
    for stage in ("train", "search", "finetune", "export", "report"):
        assert f"natv2.{stage}.stage:run" in START_PATH[stage]


def test_reliability_doc_lists_what_only_a_running_stage_can_know() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("## What only a running stage can know", 1)[1].split("\n## ", 1)[0]
    for kind in {kind for kind, _ in RUNTIME.values()}:
        assert f"**{kind}**" in section, f"docs/reliability.md does not list the kind '{kind}'"
