"""The API reference (issue 21): `make docs` builds it with Sphinx, strict, offline; every public name of
`natv2` and of each sub-package's `__all__` has an entry with a docstring; the front-door example runs."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"


def _build(tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    src, out = tmp_path / "api", tmp_path / "html"
    shutil.copytree(API, src, ignore=shutil.ignore_patterns("reference", "__pycache__"))
    env = dict(os.environ, NATV2_DOCS_DIR=str(ROOT / "docs"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(src), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300), out


def test_the_reference_builds_strict_and_documents_every_public_name(tmp_path):
    res, out = _build(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (out / "reference").glob("*.html")}
    from natv2_api import PACKAGES  # noqa: E402  (docs/api is on sys.path below)

    for package in PACKAGES:
        names = importlib.import_module(package).__all__
        page = pages[package]
        missing = [n for n in names if f'descname"><span class="pre">{n}</span>' not in page]
        assert not missing, f"{package}: no entry for {missing}"
    assert (out / "guides" / "transfer.md").is_file() and 'href="guides/transfer.md"' in (out / "index.html").read_text()


def test_a_public_name_without_a_docstring_fails_the_build(tmp_path, monkeypatch):
    """The strictness is real: a package whose __all__ names an undocumented function breaks the build."""
    pkg = tmp_path / "src" / "natv2" / "io"
    pkg.mkdir(parents=True)
    shutil.copytree(ROOT / "src" / "natv2", tmp_path / "src" / "natv2", dirs_exist_ok=True)
    (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + "\n\ndef undocumented():\n    return 1\n\n"
                                     "__all__ = [*__all__, 'undocumented']\n")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("results", "img", "reference"))
    src, out = tmp_path / "docs" / "api", tmp_path / "html"
    env = dict(os.environ, NATV2_DOCS_DIR=str(tmp_path / "docs"), PYTHONPATH=str(tmp_path / "src"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(src), str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0 and "undocumented has no docstring" in res.stderr


def test_the_front_door_example_runs_as_written():
    text = (API / "index.rst").read_text(encoding="utf-8")
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text).group(1)
    code = "\n".join(line[3:] for line in block.splitlines())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "subnets on the front" in out.stdout


sys.path.insert(0, str(API))
