"""Training progress reads well anywhere (issue 21): a bar on a terminal, plain lines without carriage
returns in a log file, nothing but the epoch lines with run.progress=false or NATV2_PROGRESS=0."""

from __future__ import annotations

import io

import pytest

from natv2.train import progress as progress_mod
from natv2.train.progress import Progress, progress_mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _epoch(stream, enabled=True, main=True):
    p = Progress(enabled, "full", 2, 4, stream=stream, main=main)
    p.start_epoch(0)
    for i in range(4):
        p.step(i, 1.0, 8)
    p.end_epoch(1.0, 0.5)
    p.close()
    return stream.getvalue()


def test_the_mode_follows_the_stream_the_setting_and_the_environment(monkeypatch):
    monkeypatch.delenv("NATV2_PROGRESS", raising=False)
    assert progress_mode(True, _Tty()) == "bar" and progress_mode(True, io.StringIO()) == "lines"
    assert progress_mode(False, _Tty()) == "off"
    monkeypatch.setenv("NATV2_PROGRESS", "0")
    assert progress_mode(True, _Tty()) == "off"


def test_a_log_file_gets_plain_lines_without_carriage_returns(monkeypatch):
    monkeypatch.delenv("NATV2_PROGRESS", raising=False)
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 0.0)
    out = _epoch(io.StringIO())
    assert "\r" not in out
    assert "step 4/4" in out and "img/s" in out
    assert out.rstrip().splitlines()[-1] == "[full] epoch 1/2  loss 1.0000  val(grid mean) 50.00%"


@pytest.mark.parametrize("env, enabled", [("0", True), (None, False)])
def test_off_keeps_only_the_epoch_line(monkeypatch, env, enabled):
    if env is None:
        monkeypatch.delenv("NATV2_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("NATV2_PROGRESS", env)
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 0.0)
    assert _epoch(io.StringIO(), enabled).splitlines() == ["[full] epoch 1/2  loss 1.0000  val(grid mean) 50.00%"]


def test_other_ranks_print_nothing():
    assert _epoch(io.StringIO(), main=False) == ""
