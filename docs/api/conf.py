"""Sphinx configuration of natv2's API reference (`make docs`): pages generated from each package's
`__all__` by natv2_api.py, built offline, strict (every warning is an error, nitpicky references)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = Path(os.environ.get("NATV2_DOCS_DIR") or HERE.parent)  # the guides; the tests build a copy elsewhere
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(DOCS.parent / "src"))

import natv2  # noqa: E402

project = "natv2"
release = version = natv2.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "natv2_api"]
exclude_patterns = ["_build"]
autodoc_typehints = "none"  # signatures name torch / numpy types, which an offline build cannot link
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = True
nitpick_ignore_regex = [("py:class", r"(numpy|np|torch|nn)\..*")]  # no network: no intersphinx
html_theme = "alabaster"
html_title = f"natv2 {release} API reference"
html_static_path: list[str] = []
natv2_docs_dir = str(DOCS)
