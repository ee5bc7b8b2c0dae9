"""A Sphinx extension that writes one reference page per natv2 package from its `__all__`, and fails
the build (a warning, and the build runs with -W) for a public name without a docstring.

Classes and functions are documented where they are defined; constants by the attribute docstring
(a string literal right below the assignment) in the module that assigns them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

log = logging.getLogger(__name__)
PACKAGES = ("natv2", "natv2.config", "natv2.data", "natv2.export", "natv2.finetune", "natv2.io", "natv2.measure",
            "natv2.nn", "natv2.pipeline", "natv2.predictors", "natv2.report", "natv2.search", "natv2.space",
            "natv2.supernets")
GUIDES = Path(__file__).resolve().parents[1]  # docs/ (conf.py's natv2_docs_dir overrides it)
SRC = GUIDES.parent / "src"


def _configure(app: Any, config: Any) -> None:
    global GUIDES, SRC
    GUIDES = Path(config.natv2_docs_dir)
    SRC = GUIDES.parent / "src"


def _assigning_module(package: str, name: str) -> str:
    """The module under `package` whose top level assigns `name` (where a constant's docstring lives)."""
    root = Path(importlib.import_module(package).__file__).parent
    files = [root / "__init__.py"] + sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                rel = path.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
                return rel.removesuffix(".__init__")
    return package


def _directive(package: str, name: str) -> tuple[str, str]:
    obj: Any = getattr(importlib.import_module(package), name)
    if inspect.isclass(obj):
        return "autoclass", f"{package}.{name}"  # under its public name (natv2.create_supernet, not ...registry.create)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "autofunction", f"{package}.{name}"
    return "autodata", f"{_assigning_module(package, name)}.{name}"  # where its attribute docstring is


def _page(package: str) -> tuple[str, list[str]]:
    mod = importlib.import_module(package)
    names = list(getattr(mod, "__all__", []))
    doc = inspect.getdoc(mod) or ""
    title = f"``{package}``"
    lines = [title, "=" * len(title), "", f".. module:: {package}", "   :no-index:", ""]
    lines += [doc.split("\n\n")[0].replace("`", "``").replace("````", "``"), ""]
    targets = []
    for name in names:
        kind, target = _directive(package, name)
        targets.append(target)
        obj = id(getattr(mod, name))
        again = kind == "autoclass" and obj in _INDEXED  # a class exported twice is indexed once (canonical name)
        _INDEXED.add(obj)
        lines += [f".. {kind}:: {target}", "   :no-index:" if again else "", ""]
    return "\n".join(lines) + "\n", targets


_INDEXED: set[int] = set()


_WANTED: set[str] = set()
_DOCUMENTED: set[str] = set()


def _generate(app: Any) -> None:
    out = Path(app.srcdir) / "reference"
    out.mkdir(exist_ok=True)
    _INDEXED.clear()
    for package in PACKAGES:
        text, targets = _page(package)
        _WANTED.update(targets)
        (out / f"{package}.rst").write_text(text, encoding="utf-8")


def _record(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Note a name whose own docstring is there; a constant showing its type's docstring has none."""
    if what in ("data", "attribute") and "\n".join(lines).strip() == (inspect.getdoc(type(obj)) or "").strip():
        lines.clear()
    if any(line.strip() for line in lines):
        _DOCUMENTED.add(name)


def _check(app: Any, exception: Exception | None) -> None:
    if exception is not None:
        return
    for name in sorted(_WANTED - _DOCUMENTED):
        log.warning(f"public name {name} has no docstring (natv2's API reference documents every name of __all__)")
    guides = Path(app.outdir) / "guides"
    guides.mkdir(exist_ok=True)
    for md in sorted(GUIDES.glob("*.md")):
        shutil.copy2(md, guides / md.name)


class Guides(SphinxDirective):
    """A bullet list of docs/*.md, each linked to its copy in guides/."""

    def run(self) -> list[nodes.Node]:
        items = nodes.bullet_list()
        for md in sorted(GUIDES.glob("*.md")):
            first = next((l.lstrip("# ").strip() for l in md.read_text(encoding="utf-8").splitlines() if l.strip()), md.stem)
            para = nodes.paragraph()
            para += nodes.reference("", md.name, refuri=f"guides/{md.name}")
            para += nodes.Text(f": {first}")
            items += nodes.list_item("", para)
        return [items]


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("natv2_docs_dir", str(GUIDES), "env")
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _record)
    app.connect("build-finished", _check)
    app.add_directive("natv2-guides", Guides)
    return {"parallel_read_safe": False}
