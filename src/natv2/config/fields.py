"""The one way a config key is documented: `field(default=..., metadata=key_help("..."))`.

`natv2 config keys` prints the text; `volatile=True` marks a setting that does not change results
(it may differ when a run is resumed).
"""

from __future__ import annotations

from typing import Any


def key_help(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata carrying the key's help text (and flags such as volatile=True)."""
    return {"help": text, **extra}
