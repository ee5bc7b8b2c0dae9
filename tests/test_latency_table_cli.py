"""`natv2 latency-table`: builds, calibrates, validates and saves a table; the search then uses it (lut_latency)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from natv2.measure.lut import LatencyTable
from natv2.space import SubnetConfig

NATV2 = Path(sys.executable).parent / "natv2"
TINY_TIMING = ["--runs", "2", "--warmup", "0", "--rounds", "1", "--calibrate", "2", "--validate", "3"]


def natv2(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NATV2_DEBUG"}
    return subprocess.run([str(NATV2), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_help_names_the_options():
    res = natv2("latency-table", "--help", cwd=Path.cwd())
    assert res.returncode == 0, res.stderr
    for option in ("--supernet", "--resolutions", "--calibrate", "--validate", "--threads", "OUT"):
        assert option in res.stdout


def test_bad_options_are_one_paragraph_errors(tmp_path):
    res = natv2("latency-table", "t.json", "--preset", "smoke", "--n-classes", "10", "--calibrate", "1", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "--calibrate" in res.stderr and "fix:" in res.stderr
    res = natv2("latency-table", "t.txt", "--preset", "smoke", "--n-classes", "10", cwd=tmp_path)
    assert res.returncode == 2 and ".json" in res.stderr
    res = natv2("latency-table", "t.json", "--resolutions", "a,b", cwd=tmp_path)
    assert res.returncode == 2 and "comma-separated" in res.stderr


def test_table_from_the_cli_drives_a_lut_latency_search(tmp_path):
    res = natv2("latency-table", "lut.json", "--preset", "smoke", "--n-classes", "10", *TINY_TIMING, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "validation: n=3" in res.stdout and "calibration:" in res.stdout
    table = LatencyTable.load(tmp_path / "lut.json")
    assert table.meta["arch"] == "ofav2_ee_d" and table.meta["resolutions"] == [16] and table.meta["n_classes"] == 10
    assert table.meta["calibration"]["n"] == 2 and table.meta["validation"]["n"] == 3
    assert len(table.entries) > 50

    res = natv2("search", "--preset", "smoke", "--run-dir", "run", "--set", "search_stage.random_init=ofav2_ee_d",
                "--set", "search_stage.space.r=[16]", "--set", "search.objectives=[err,lut_latency]",
                "--set", f"search_stage.latency_table={tmp_path / 'lut.json'}", cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    front = json.loads((tmp_path / "run" / "search" / "non_dominated.json").read_text())
    assert front["objectives"] == ["err", "lut_latency"]
    for entry in front["entries"]:  # the search's latency objective is the table's prediction
        cfg = SubnetConfig.from_dict(entry["config"])
        assert abs(entry["objectives"]["lut_latency"] - table.predict(cfg)) < 1e-9 * max(1.0, table.predict(cfg))
