"""The run-directory contract (natv2.io.artifacts): one owner for every file name, typed stage outputs,
one supernet resolver, schema versions."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from natv2.errors import RunDirError
from natv2.io import artifacts as A
from natv2.search.output import SearchOutput
from natv2.supernets.checkpoint import TrainedSupernet

SRC = Path(__file__).resolve().parents[1] / "src"
OWNER = "natv2/io/artifacts.py"
# File names of a run directory that more than one module needs (or once did).
RUN_FILES = ("config.yaml", "events.jsonl", "non_dominated.json", "high_tradeoff.json", "final_test.json",
             "finetune.json", "export.json", "meta.json", "history.json", "journal.jsonl", "metrics.jsonl",
             "index.html", "state.json", "archive.json", "front.json", "config.json", "val_accuracy.png",
             "supernet.json", "finetuned.safetensors", "train/supernet", "search/supernet")


def _literals(path: Path) -> set[str]:
    """Every string constant of a module (f-string pieces included), docstrings excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs}


def test_each_run_directory_file_name_is_spelled_in_one_module():
    owners: dict[str, set[str]] = {name: set() for name in RUN_FILES}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for lit in _literals(path):
            for name in RUN_FILES:
                if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", lit):  # alone, in a path or in a message
                    owners[name].add(rel)
    assert {n: sorted(o) for n, o in owners.items() if o - {OWNER}} == {}


def test_layout_paths():
    lay = A.Layout("/r")
    assert lay.config == Path("/r/config.yaml") and lay.trained_supernet == Path("/r/train/supernet")
    assert lay.iteration(7).name == "iter_007" and lay.report_index == Path("/r/report/index.html")
    files = A.search_files(lay.search)
    assert files.non_dominated == Path("/r/search/non_dominated.json")
    assert files.iter_archive(3) == Path("/r/search/iter_003/archive.json")


def _fake_checkpoint(stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_name(stem.name + ".json").write_text("{}")
    stem.with_name(stem.name + ".safetensors").write_bytes(b"")


def test_one_supernet_resolver(tmp_path):
    lay = A.Layout(tmp_path)
    assert TrainedSupernet.find(tmp_path, adapted=True) is None
    _fake_checkpoint(lay.trained_supernet)
    assert TrainedSupernet.find(tmp_path, adapted=True).stem == lay.trained_supernet
    _fake_checkpoint(lay.adapted_supernet)
    assert TrainedSupernet.find(tmp_path, adapted=True) == TrainedSupernet(lay.adapted_supernet, True)
    assert TrainedSupernet.find(tmp_path, adapted=False).stem == lay.trained_supernet  # the search starts from training's
    given = TrainedSupernet.given("train/supernet.safetensors", tmp_path, "fix")
    assert given.stem == lay.trained_supernet
    with pytest.raises(RunDirError, match="not found"):
        TrainedSupernet.given("nowhere", tmp_path, "fix")


def test_search_output_is_read_with_the_search_reader(tmp_path):
    from natv2.finetune.selection import select_subnets
    from natv2.search.archive import ArchiveEntry, entries_to_json
    from natv2.space import SubnetConfig

    cfgs = [SubnetConfig.from_dict({"ks": [k] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32, "w": 1.0}) for k in (3, 5)]
    entries = [ArchiveEntry(c, acc, (p,), 1, 2) for c, acc, p in zip(cfgs, (0.6, 0.7), (10.0, 20.0))]
    path = A.search_files(A.Layout(tmp_path).search).non_dominated
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(entries_to_json(entries, ["err", "params"], **A.stamp({}))))
    out = SearchOutput.find(tmp_path, "front")
    assert out.objectives == ("err", "params") and out.entries == entries
    picked = select_subnets("front", tmp_path)
    assert [c.config for c in picked] == [cfgs[1], cfgs[0]]
    assert picked[0].objectives == {"params": 20.0} and picked[0].iteration == 1 and picked[0].accuracy == 0.7
    # nothing else is guessed: a file the search did not write (front.json of old guesses) is not read
    path.rename(path.with_name("front.json"))
    with pytest.raises(RunDirError, match="no search results"):
        select_subnets("front", tmp_path)


def test_schema_versions(tmp_path):
    models = A.Layout(tmp_path).models
    models.mkdir(parents=True)
    summary = models / A.FINETUNE_SUMMARY
    summary.write_text(json.dumps({"subnets": []}))  # written before the schema key: version 1
    assert A.FineTuned.read(tmp_path).summary == {"subnets": []}
    summary.write_text(json.dumps({"schema": A.RUN_SCHEMA + 1, "subnets": []}))
    with pytest.raises(RunDirError, match=f"schema {A.RUN_SCHEMA + 1}.*reads schema {A.RUN_SCHEMA}"):
        A.FineTuned.read(tmp_path)
    assert A.Exported.read(tmp_path) is None and A.ReportPage.find(tmp_path) is None
