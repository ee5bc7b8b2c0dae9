"""The package stands alone: its `§` citations resolve to docs/algorithms.md, it never names ../shared,
and a download shows progress and, offline, says where to put the files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from natv2.data.download import Progress, fetch
from natv2.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "natv2"
SOURCE_SUFFIXES = {".py", ".yaml", ".yml", ".md", ".txt"}
CITATION = re.compile(r"§\s*(\d+(?:\.\d+)?)(?:\s*[-–]\s*(\d+(?:\.\d+)?))?")
HEADING = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)?)\.?\s", re.M)


def _sources() -> list[Path]:
    return [p for p in SRC.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts]


def _cited() -> dict[str, list[str]]:
    cited: dict[str, list[str]] = {}
    for path in _sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in CITATION.finditer(line):
                for number in filter(None, m.groups()):
                    cited.setdefault(number, []).append(f"{path.relative_to(REPO)}:{n}")
    return cited


def test_every_section_citation_resolves_to_a_heading_of_docs_algorithms():
    headings = set(HEADING.findall((REPO / "docs" / "algorithms.md").read_text(encoding="utf-8")))
    cited = _cited()
    assert len(cited) >= 20, "the citation pattern no longer finds the code's § references"
    missing = {number: where[:3] for number, where in cited.items() if number not in headings}
    assert not missing, f"§ citations without a heading in docs/algorithms.md: {missing}"


def test_the_resolver_notices_a_dangling_citation():
    headings = set(HEADING.findall("## 1. A\n### 1.1 B\n"))
    found = [n for m in CITATION.finditer("see §1.1-1.2 and §9.9") for n in m.groups() if n]
    assert [n for n in found if n not in headings] == ["1.2", "9.9"]


def test_nothing_in_src_names_the_development_layout():
    hits = [f"{p.relative_to(REPO)}:{n}" for p in _sources()
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "../shared" in line
            or re.search(r"""["']shared["']""", line)]
    assert not hits, hits


def test_discovery_ignores_a_shared_data_folder_beside_the_working_directory(tmp_path, monkeypatch):
    from natv2.data.discovery import search_bases

    work = tmp_path / "work"
    (tmp_path / "shared" / "data" / "cifar10").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("NATV2_DATA", raising=False)
    assert all("shared" not in str(b) for b in search_bases(str(tmp_path / "cache")))
    monkeypatch.setenv("NATV2_DATA", str(tmp_path / "shared" / "data"))
    assert search_bases(str(tmp_path / "cache"))[0] == (tmp_path / "shared" / "data").resolve()


def test_download_shows_progress_and_keeps_a_checked_file(tmp_path, monkeypatch):
    import hashlib

    payload = b"x" * 300_000
    src = tmp_path / "archive.tar.gz"
    src.write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    dest = fetch(src.as_uri(), tmp_path / "out" / "archive.tar.gz", md5)
    assert dest.read_bytes() == payload
    lines = err.getvalue().splitlines()
    assert lines and lines[-1].startswith("downloading archive.tar.gz: [") and "100%" in lines[-1]
    err.truncate(0)
    fetch("http://127.0.0.1:9/never", dest, md5)  # already there with the right checksum: no network needed
    assert err.getvalue() == ""


def test_offline_download_says_where_to_put_the_archive(tmp_path):
    dest = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    with pytest.raises(DataError) as info:
        fetch("http://127.0.0.1:9/cifar-10-python.tar.gz", dest, "c58f30108f718f92721af3b95e74349a", timeout=5)
    assert str(dest) in info.value.fix and "c58f30108f718f92721af3b95e74349a" in info.value.fix
    assert "data.root" in info.value.fix


def test_progress_without_a_size_counts_megabytes():
    out = io.StringIO()
    bar = Progress("downloading x", None, out)
    bar.update(2_500_000)
    bar.close()
    assert out.getvalue().strip() == "downloading x: 2.5 MB"
