"""AEP exit weights (spec §2.2): loss weights alpha and output weights beta for n exits.

The generator is the thesis' `get_weights`: w_i = round(i / (n(n+1)/2), 4) for i = 1..n, which
grows with depth. The ordering decides which list alpha and beta take.
"""

from __future__ import annotations

from natv2.errors import ConfigError


def ascending_weights(n: int) -> list[float]:
    """w_i = round(i / (n(n+1)/2), 4): deeper exits weigh more; sums to 1 up to rounding."""
    if n < 1:
        raise ConfigError(f"exit weights need at least one exit, got n={n}", "use n >= 1")
    total = n * (n + 1) / 2
    return [round(i / total, 4) for i in range(1, n + 1)]


def _asc(n: int) -> tuple[list[float], list[float]]:
    w = ascending_weights(n)
    return w, list(w)


def _desc(n: int) -> tuple[list[float], list[float]]:
    w = ascending_weights(n)[::-1]
    return w, list(w)


def _mix(n: int) -> tuple[list[float], list[float]]:
    w = ascending_weights(n)
    return w[::-1], w


def _unif(n: int) -> tuple[list[float], list[float]]:
    if n < 1:
        raise ConfigError(f"exit weights need at least one exit, got n={n}", "use n >= 1")
    return [1.0 / n] * n, [1.0 / n] * n


ORDERINGS = {"ASC": _asc, "DESC": _desc, "MIX": _mix, "UNIF": _unif}


def exit_weights(n: int, ordering: str = "UNIF") -> tuple[list[float], list[float]]:
    """(alpha, beta) for exits 1..n: alpha weighs the per-exit losses, beta the per-exit logits."""
    try:
        make = ORDERINGS[ordering.upper()]
    except KeyError:
        raise ConfigError(f"unknown exit-weight ordering {ordering!r}", f"use one of {sorted(ORDERINGS)}") from None
    return make(int(n))
