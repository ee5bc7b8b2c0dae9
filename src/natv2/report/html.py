"""A tiny HTML builder that escapes by construction.

Every string that is not already `Html` is passed through `html.escape` when it is placed in a
tag, so run data (config values, subnet names, file names) can never inject markup. Only this
module's own functions produce `Html`.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class Html(str):
    """Markup that is already safe to embed."""


Child = Any  # Html, str, number, None, or an iterable of those


def esc(value: Any) -> Html:
    """`value` as safe text (Html passes through unchanged)."""
    if isinstance(value, Html):
        return value
    return Html(_html.escape("" if value is None else str(value), quote=True))


def join(children: Iterable[Child]) -> Html:
    return Html("".join(_render(c) for c in children))


def _render(child: Child) -> str:
    if child is None:
        return ""
    if isinstance(child, str):
        return esc(child)
    if isinstance(child, Iterable):
        return join(child)
    return esc(child)


def _attrs(attrs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")  # class_ -> class, data_x -> data-x
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


_VOID = {"img", "br", "hr", "meta", "link", "col"}


def tag(name: str, *children: Child, **attrs: Any) -> Html:
    """<name attrs>children</name>, every attribute value and text child escaped."""
    opening = f"<{name}{_attrs(attrs)}>"
    if name in _VOID:
        return Html(opening)
    return Html(f"{opening}{join(children)}</{name}>")


def table(headers: Sequence[Child], rows: Iterable[Sequence[Child]], *, numeric: Iterable[int] = (),
          row_classes: Sequence[str | None] | None = None, caption: Child = None, class_: str = "data",
          column_classes: Mapping[int, str] | None = None, row_ids: Sequence[str | None] | None = None) -> Html:
    """A compact table; columns in `numeric` are right-aligned with tabular figures; `row_ids` make rows
    link targets (#id)."""
    num = set(numeric)
    extra = dict(column_classes or {})

    def cls(i: int) -> str | None:
        names = " ".join(n for n in ("num" if i in num else "", extra.get(i, "")) if n)
        return names or None

    head = tag("tr", *(tag("th", h, class_=cls(i)) for i, h in enumerate(headers)))
    body = []
    for r, row in enumerate(rows):
        row_cls = row_classes[r] if row_classes is not None and r < len(row_classes) else None
        row_id = row_ids[r] if row_ids is not None and r < len(row_ids) else None
        body.append(tag("tr", *(tag("td", c, class_=cls(i)) for i, c in enumerate(row)), class_=row_cls, id=row_id))
    return tag("div", tag("table", tag("caption", caption) if caption is not None else None,
                          tag("thead", head), tag("tbody", body), class_=class_), class_="table-wrap")


def definition_list(items: Iterable[tuple[Child, Child]]) -> Html:
    return tag("dl", *(join([tag("dt", k), tag("dd", v)]) for k, v in items), class_="facts")


def note(text: Child, kind: str = "info") -> Html:
    """A visible boxed remark (kind: info | warn)."""
    return tag("p", text, class_=f"note {kind}")


def figure(src: str, alt: str, caption: Child = None, width: int | None = None) -> Html:
    return tag("figure", tag("img", src=src, alt=alt, loading="lazy", width=width),
               tag("figcaption", caption) if caption is not None else None)


def link(href: str, text: Child) -> Html:
    return tag("a", text, href=href)
