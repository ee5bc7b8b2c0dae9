"""What a pip install ships besides the code: the licence pyproject names, the typing marker, the presets,
and project URLs (issue 22). Read from pyproject and the source tree, so no build is needed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_licence_file_matches_pyproject_and_is_shipped():
    project = _project()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text


def test_the_typing_marker_and_presets_are_package_data():
    data = _project()["tool"]["setuptools"]["package-data"]["natv2"]
    assert "py.typed" in data and (ROOT / "src" / "natv2" / "py.typed").is_file()
    assert any(Path(p).match("config/presets/*.yaml") or p == "config/presets/*.yaml" for p in data)
    assert list((ROOT / "src" / "natv2" / "config" / "presets").glob("*.yaml"))


def test_project_urls_point_at_the_papers():
    urls = _project()["project"]["urls"]
    assert urls and all(u.startswith("https://") for u in urls.values())
