"""INT8 latency tables (`natv2 latency-table --int8`): every layer, and every calibration and validation
subnet, is exported to ONNX, statically quantized and timed in onnxruntime; the search uses the table as is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import natv2.runtime.int8 as int8_module
from natv2.errors import ConfigError
from natv2.measure.latency import cpu_flags, has_vnni
from natv2.measure.lut import LatencyTable, distinct_layers, validate_table
from natv2.measure.lut_build import TableRequest, build_calibrated_table
from natv2.measure.timing_backends import ONNXRUNTIME_INT8, TORCH, OnnxInt8Backend, TorchBackend
from natv2.runtime.int8 import is_quantized
from natv2.space import SearchSpace

NATV2 = Path(sys.executable).parent / "natv2"
SPACE = SearchSpace(ks=(3, 5), e=(3,), d=(2,))  # small, yet its subnets differ: a table in seconds
FAST = dict(threads=1, warmup=0, runs=2, rounds=1)
FAST_MEASURE = dict(warmup=0, runs=2, rounds=1)


def natv2(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NATV2_DEBUG"}
    return subprocess.run([str(NATV2), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture
def quantized(monkeypatch) -> list[bool]:
    """For every file `quantize_int8` writes while the test runs (the real quantizer still runs), whether
    it holds quantized operators (read at once: the files live in a temporary folder)."""
    written: list[bool] = []
    real = int8_module.quantize_int8

    def spy(*args, **kwargs):
        path = real(*args, **kwargs)
        written.append(is_quantized(path))
        return path

    monkeypatch.setattr(int8_module, "quantize_int8", spy)
    return written


@pytest.fixture
def no_torch_timing(monkeypatch) -> None:
    def refuse(self, items, setting):
        raise AssertionError("an INT8 table was timed with torch")

    monkeypatch.setattr(TorchBackend, "time", refuse)


@pytest.fixture(scope="module")
def mbv3_table() -> LatencyTable:
    return LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), space=SPACE, backend=ONNXRUNTIME_INT8, **FAST)


def _supernet(name: str, **space):
    from natv2.supernets import create

    return create(name, 10, 1.0, r=[32], ks=list(SPACE.ks), e=list(SPACE.e), d=list(SPACE.d), **space).eval()


def test_int8_table_of_ofa_mbv3_records_how_it_was_timed(mbv3_table):
    import onnxruntime

    table = mbv3_table
    assert len(table.entries) == table.meta["n_entries"] == len(distinct_layers("ofa_mbv3", 10, SPACE.restrict(r=(32,))))
    assert all(ms > 0 for ms in table.entries.values())
    meta = table.meta
    assert (table.backend, table.precision) == (meta["backend"], meta["precision"]) == (ONNXRUNTIME_INT8, "int8")
    assert meta["onnxruntime_version"] == onnxruntime.__version__ and meta["device"] == "cpu" and meta["threads"] == 1
    assert meta["cpu_flags"] == cpu_flags() and meta["vnni"] == has_vnni(cpu_flags())
    assert meta["quantization"]["format"] == "QDQ" and "int8" in meta["quantization"]["weights"]
    assert meta["channels_last"] is False  # onnxruntime's layouts, not torch's memory format


def test_every_layer_of_an_early_exit_family_runs_quantized_in_onnxruntime(quantized, no_torch_timing):
    space = SearchSpace(ks=(3,), e=(3,), d=(2,), nd=(1, 3, 5))
    table = LatencyTable.build("ofav2_ee_d", 10, 1.0, (32,), space=space, backend=ONNXRUNTIME_INT8, **FAST)
    assert len(quantized) == len(table.entries) == len(distinct_layers("ofav2_ee_d", 10, space.restrict(r=(32,))))
    assert sum(k.startswith("exit_head") for k in table.entries) == 3 and all(ms > 0 for ms in table.entries.values())
    assert all(quantized)


def test_int8_table_round_trips_through_json_and_yaml(mbv3_table, tmp_path):
    cfg = SPACE.restrict(r=(32,)).max_config()
    for suffix in (".json", ".yaml"):
        again = LatencyTable.load(mbv3_table.save(tmp_path / f"lut{suffix}"))
        assert again.entries == pytest.approx(mbv3_table.entries) and again.meta == mbv3_table.meta
        assert (again.backend, again.precision) == (ONNXRUNTIME_INT8, "int8")
        assert again.predict(cfg) == pytest.approx(mbv3_table.predict(cfg))


def test_calibration_and_validation_time_int8_subnets(mbv3_table, quantized, no_torch_timing):
    sn = _supernet("ofa_mbv3")
    space = sn.space
    cal = mbv3_table.calibrate(sn, n=2, space=space, **FAST_MEASURE)
    assert len(quantized) == 2 and cal.backend == ONNXRUNTIME_INT8 and cal.meta["calibration"]["scale"] > 0
    report = validate_table(cal, sn, n=3, seed=0, space=space, **FAST_MEASURE)
    assert len(quantized) == 5 and report.n == 3 and all(ms > 0 for ms in report.measured_ms)
    assert report.meta["backend"] == ONNXRUNTIME_INT8 and report.meta["precision"] == "int8"
    assert np.isfinite(report.mean_abs_pct_error) and -1.0 <= report.kendall <= 1.0


def test_a_table_without_a_backend_key_is_a_torch_table(quantized):
    sn = _supernet("ofa_mbv3")
    table = LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), space=SPACE, **FAST)
    assert (table.meta["backend"], table.precision) == (TORCH, "float32") and not quantized
    old = LatencyTable(table.entries, {k: v for k, v in table.meta.items() if k not in ("backend", "precision")})
    assert (old.backend, old.precision) == (TORCH, "float32")
    assert validate_table(old, sn, n=2, space=sn.space, **FAST_MEASURE).n == 2 and not quantized


def test_int8_on_cuda_is_refused_before_any_timing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("timed or built before refusing")

    monkeypatch.setattr(OnnxInt8Backend, "time", refuse)
    monkeypatch.setattr("natv2.supernets.create", refuse)
    with pytest.raises(ConfigError, match="CPU") as err:
        LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), device="cuda", space=SPACE, backend=ONNXRUNTIME_INT8)
    assert "cuda" in str(err.value) and err.value.fix
    req = TableRequest("ofa_mbv3", 10, 1.0, (32,), {}, device="cuda", backend=ONNXRUNTIME_INT8)
    with pytest.raises(ConfigError, match="CPU"):
        build_calibrated_table(req)
    with pytest.raises(ConfigError, match="timing backend"):
        LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), space=SPACE, backend="tensorrt-int4")


def test_lut_latency_objective_reads_an_int8_table(mbv3_table, tmp_path):
    from natv2.search.objectives import OBJECTIVES, ObjectiveContext

    path = mbv3_table.save(tmp_path / "lut-int8.json")
    space = SPACE.restrict(r=(32,))
    objective = OBJECTIVES.build("lut_latency", ObjectiveContext(space=space, arch="ofa_mbv3", n_classes=10,
                                                                 latency_table=str(path)))
    rng = np.random.default_rng(0)
    for cfg in (space.sample(rng) for _ in range(3)):
        assert objective.fn(cfg) == pytest.approx(mbv3_table.predict(cfg))


def test_cli_help_documents_int8():
    res = natv2("latency-table", "--help", cwd=Path.cwd())
    assert res.returncode == 0, res.stderr
    assert "--int8" in res.stdout and "onnxruntime" in res.stdout and "latency-table lut-int8.json --int8" in res.stdout


def test_cli_refuses_int8_on_cuda_and_writes_nothing(tmp_path):
    res = natv2("latency-table", "lut.json", "--int8", "--device", "cuda", "--preset", "smoke", "--n-classes", "10",
                cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "cuda" in res.stderr and "CPU" in res.stderr and "fix:" in res.stderr
    assert not list(tmp_path.iterdir())


def test_cli_builds_calibrates_and_validates_an_int8_table(tmp_path):
    narrow = ["--set", "train.space.ks=[3]", "--set", "train.space.e=[3]", "--set", "train.space.d=[2]"]
    res = natv2("latency-table", "lut.json", "--int8", "--preset", "smoke", "--n-classes", "10", *narrow, "--runs", "2",
                "--warmup", "0", "--rounds", "1", "--calibrate", "2", "--validate", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "validation: n=3" in res.stdout and "calibration:" in res.stdout and "int8 via onnxruntime-int8" in res.stdout
    table = LatencyTable.load(tmp_path / "lut.json")
    assert table.backend == ONNXRUNTIME_INT8 and table.meta["arch"] == "ofav2_ee_d" and table.meta["resolutions"] == [16]
    validation = table.meta["validation"]
    assert validation["n"] == 3 and validation["meta"]["precision"] == "int8"
    assert "kendall" in validation and "mean_abs_pct_error" in validation
    assert json.loads((tmp_path / "lut.json").read_text())["meta"]["calibration"]["n"] == 2
