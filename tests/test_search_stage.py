"""`natv2 search` end to end on scikit-learn digits (tiny, no downloads, random supernet weights):
run directory files, adaptation actually feeding the evaluator, resume after crashes (in evaluation
and in adaptation) giving the archive of an uninterrupted run, and the stage's config handling."""

from __future__ import annotations

import re
import json

import pytest
import torch

import natv2.cli.main as cli_main
from natv2.errors import ConfigError
from natv2.measure.accuracy import SupernetEvaluator, reference_accuracy
from natv2.pipeline.config import resolve_config
from natv2.search.config import SearchConfig, make_config
from natv2.search.stage import resolve_search_config, run_search_stage, search_space
from natv2.space import SearchSpace, SubnetConfig
from natv2.train.adapt import SupernetAdaptation

torch.set_num_threads(1)

SETTINGS = [
    "data.name=digits", "data.train_subset=null", "data.val_size=64", "data.batch_size=16", "data.calib_size=32",
    "data.calib_batch_size=16", "data.eval_batch_size=64", "search_stage.space.r=[16]", "search.archive_size=8",
    "search.iterations=2", "search.candidates_per_iter=2", "search.preprocess_multiplier=2", "search.emo_pop=10",
    "search.emo_gens=2", "search.subset_pop=10", "search.subset_gens=5", "search.top_n=6",
    "search_stage.adapt.epochs=1", "search.eval_chunk=4", "search_stage.adapt.steps_per_epoch=2",
    "search_stage.adapt.warmup_epochs=0", "run.threads=1", "run.progress=false",
]
ARGS = [a for s in SETTINGS for a in ("--set", s)]


def _final_archive(run):
    return json.loads((run / "search" / "iter_002" / "archive.json").read_text())["entries"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("search") / "run"
    code = cli_main.main(["search", "--run-dir", str(run), "--random-init", "ofa_mbv3", *ARGS])
    assert code == 0
    return run


def test_search_command_writes_the_run_directory(cli_run, capsys):
    run = cli_run
    for name in ("config.yaml", "events.jsonl", "search/journal.jsonl", "search/history.json", "search/non_dominated.json",
                 "search/high_tradeoff.json", "search/final_test.json", "search/archive.json", "search/supernet.safetensors", "search/supernet.json",
                 "search/adapt/state.json", "search/iter_002/archive.json"):
        assert (run / name).exists(), name
    events = [json.loads(s) for s in (run / "events.jsonl").read_text().splitlines()]
    kinds = [(e["stage"], e["event"]) for e in events]
    assert ("search", "start") in kinds and ("search", "done") in kinds
    assert [e["data"]["iteration"] for e in events if e["event"] == "iteration"] == [0, 1, 2]
    final = json.loads((run / "search" / "final_test.json").read_text())
    assert final["split"] == "test" and final["entries"]
    assert all(0.0 <= e["test_acc"] <= 1.0 for e in final["entries"])
    assert any(e["high_tradeoff"] for e in final["entries"]) and any(e["in_front"] for e in final["entries"])
    assert json.loads((run / "search" / "archive.json").read_text())["entries"] == _final_archive(run)
    history = json.loads((run / "search" / "history.json").read_text())["iterations"]
    assert [h["adapted"] for h in history] == [False, True, True]
    # the adapted supernet and the adaptation's last checkpoint hold the same weights: one file on disk
    state = json.loads((run / "search" / "adapt" / "state.json").read_text())
    assert (run / "search" / "adapt" / state["model_file"]).samefile(run / "search" / "supernet.safetensors")

    # running the same command again resumes a finished search: nothing is evaluated again
    lines = (run / "search" / "journal.jsonl").read_text().count("\n")
    code = cli_main.main(["search", str(run)])
    out = capsys.readouterr().out
    assert code == 0 and "search done" in out and "iter   2/2" in out
    assert (run / "search" / "journal.jsonl").read_text().count("\n") == lines


def test_re_evaluation_uses_the_adapted_weights(cli_run):
    """The last archive was re-evaluated after the last adaptation: its accuracies are those of the
    saved (adapted) supernet, measured by the plain path; and adaptation changed some accuracies."""
    from natv2.data import load_dataset
    from natv2.supernets import load_supernet
    from natv2.train.data import SplitsTrainingData

    run = cli_run
    config = resolve_config(config_file=run / "config.yaml")
    data = SplitsTrainingData(load_dataset(config.data), config.data, seed=config.run.seed)
    net = load_supernet(run / "search" / "supernet").eval()
    entries = _final_archive(run)
    for e in entries[:3]:
        cfg = SubnetConfig.from_dict(e["config"])
        assert e["evaluated"] == 2
        assert abs(reference_accuracy(net, cfg, data) - e["acc"]) <= 1.5 / 64  # at most one near-tie flips
    journal = [json.loads(s) for s in (run / "search" / "journal.jsonl").read_text().splitlines()]
    evals = [r for r in journal if r["type"] == "eval"]
    first = {r["key"]: r["acc"] for r in evals if r["step"] in ("pre", "init")}
    reeval = {r["key"]: r["acc"] for r in evals if r["step"] == "it001/reeval"}
    assert reeval and any(first[k] != a for k, a in reeval.items() if k in first)


class Killed(Exception):
    pass


def test_resume_after_crashes_gives_the_uninterrupted_archive(cli_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    config = resolve_config(overrides=SETTINGS, values={"run.run_dir": str(run), "search_stage.random_init": "ofa_mbv3"})
    quiet = lambda msg: None  # noqa: E731

    calls = {"n": 0}
    plain_call = SupernetEvaluator.__call__

    def dying_call(self, cfgs):
        calls["n"] += 1
        if calls["n"] == 8:  # calls 1-5: initial archive, 6: iteration 1's candidates, 7-8: its re-evaluation
            raise Killed()
        return plain_call(self, cfgs)

    monkeypatch.setattr(SupernetEvaluator, "__call__", dying_call)
    with pytest.raises(Killed):
        run_search_stage(config, run, log=quiet)
    monkeypatch.setattr(SupernetEvaluator, "__call__", plain_call)

    plain_epoch = SupernetAdaptation._epoch

    def dying_epoch(self, sampler, iteration, epoch, epochs):
        if iteration == 2:
            raise Killed()
        return plain_epoch(self, sampler, iteration, epoch, epochs)

    monkeypatch.setattr(SupernetAdaptation, "_epoch", dying_epoch)
    with pytest.raises(Killed):
        run_search_stage(config, run, log=quiet)
    monkeypatch.setattr(SupernetAdaptation, "_epoch", plain_epoch)

    out = run_search_stage(config, run, log=quiet)
    assert _final_archive(run) == _final_archive(cli_run)

    def n_evals(r):
        return sum(json.loads(s)["type"] == "eval" for s in (r / "search" / "journal.jsonl").read_text().splitlines())

    assert n_evals(run) == n_evals(cli_run)  # nothing evaluated twice, nothing lost
    ref_final = json.loads((cli_run / "search" / "final_test.json").read_text())
    assert out.final_test["entries"] == ref_final["entries"]


def test_policy_presets_and_space_narrowing():
    assert resolve_search_config(SearchConfig(), 0) == make_config("natv2", seed=0)
    nat = resolve_search_config(SearchConfig(policy="nat", iterations=3, repair="fill"), 5)
    assert (nat.policy, nat.iterations, nat.repair, nat.init, nat.seed) == ("nat", 3, "fill", "nat", 5)  # a value given is kept
    # A budget a preset sets for every policy (the cifar10 preset: preprocess_multiplier 3) must not switch
    # pre-processing on under NAT: pre-processing itself is the policy's switch.
    nat = resolve_search_config(SearchConfig(policy="nat", preprocess_multiplier=3, archive_size=60), 0)
    assert (nat.preprocess, nat.archive_size, nat.init, nat.repair) == (False, 60, "nat", "push")
    v2 = resolve_search_config(SearchConfig(policy="natv2", preprocess_multiplier=3, archive_size=60), 0)
    assert v2.preprocess and v2.preprocess_multiplier == 3  # the same section under natv2 pre-processes (x3)
    sp = search_space(SearchSpace(r=(24, 28, 32)), {"r": [32], "d": [2, 3]}, "ofa_mbv3", 10)
    assert sp.r == (32,) and sp.d == (2, 3) and (sp.arch, sp.n_classes, dict(sp.extras)) == ("ofa_mbv3", 10, {})
    with pytest.raises(ConfigError, match="not within"):
        search_space(SearchSpace(r=(32,)), {"r": [40]}, "ofa_mbv3", 10)
    with pytest.raises(ConfigError, match="does not have"):
        search_space(SearchSpace(r=(32,)), {"nd": [3]}, "ofa_mbv3", 10)


def test_val_images_ranks_on_a_validation_subset_and_a_bad_count_is_refused(tmp_path, capsys):
    """search_stage.val_images reaches the evaluator: every archive accuracy is a multiple of 1/20 (the
    whole split would give multiples of 1/64), the log says so; 0 is refused before anything runs."""
    run = tmp_path / "run"
    quick = ["--set", "search.iterations=1", "--set", "search_stage.adapt.enabled=false", "--set", "search_stage.final_test=false"]
    code = cli_main.main(["search", "--run-dir", str(run), "--random-init", "ofa_mbv3", *ARGS, *quick,
                          "--set", "search_stage.val_images=20"])
    out = capsys.readouterr().out
    assert code == 0 and re.search(r"ranking on 20 of \d+ validation images", out)
    accs = [e["acc"] for e in json.loads((run / "search" / "archive.json").read_text())["entries"]]
    assert accs and all(abs(a * 20 - round(a * 20)) < 1e-9 for a in accs)
    assert any(abs(a * 64 - round(a * 64)) > 1e-9 for a in accs)
    bad = tmp_path / "bad"
    code = cli_main.main(["search", "--run-dir", str(bad), "--random-init", "ofa_mbv3", *ARGS, "--set", "search_stage.val_images=0"])
    err = capsys.readouterr().err
    assert code != 0 and "val_images" in err and "Traceback" not in err and not bad.exists()


def test_missing_supernet_is_a_clear_error(tmp_path, capsys):
    # train.space matches search_stage.space: else the config is refused first, for the space (test_reliability)
    code = cli_main.main(["search", "--run-dir", str(tmp_path / "empty"), *ARGS, "--set", "train.space.r=[16]"])
    err = capsys.readouterr().err
    assert code != 0 and "no trained supernet" in err and "Traceback" not in err


@pytest.mark.slow
def test_train_then_search_uses_the_runs_trained_supernet(tmp_path, capsys):
    """The pipeline order: natv2 train-supernet, then natv2 search RUN on the supernet it wrote."""
    run = tmp_path / "run"
    train = ["--set", "train.supernet=ofa_mbv3", "--set", "train.space.r=[16]", "--set", "train.only_phases=[full]",
             "--set", "train.phase_overrides.full.epochs=1", "--set", "train.steps_per_epoch=1",
             "--set", "train.val_random=0", "--set", "train.val_max_batches=1", "--set", "search.iterations=1"]
    assert cli_main.main(["train-supernet", "--run-dir", str(run), *ARGS, *train]) == 0
    code = cli_main.main(["search", str(run)])  # the run's own config.yaml
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"supernet {run / 'train' / 'supernet'}" in out.out and "search done" in out.out
    assert (run / "search" / "iter_001" / "archive.json").exists()
