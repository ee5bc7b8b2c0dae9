"""`SubnetConfig`: one architecture of an elastic MobileNetV3 supernet, as an immutable value.

Layers are stored per physical slot (20 = 5 stages x 4 slots), as OFA does, so configs round-trip
exactly through JSON. Equality and hashing use the *canonical* form, in which the layers a subnet
never runs (slots past a stage's depth, stages past the exit) are dropped: two configs that build
the same network compare equal whatever their placeholders say.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from natv2.errors import InvalidSubnetError

N_STAGES = 5
"""Stages of the elastic MobileNetV3 body (each with its own depth and, in early-exit families, an exit)."""
SLOTS_PER_STAGE = 4
"""Layer slots per stage, the largest depth a stage can have."""
N_LAYERS = N_STAGES * SLOTS_PER_STAGE
"""Layer slots in all; `ks` and `e` of a `SubnetConfig` hold one entry per slot."""
KEY_LENGTH = 40  # hex digits of SubnetConfig.key

_KNOWN_KEYS = {"ks", "e", "d", "r", "w", "nd", "nw"}


def _as_int_tuple(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (int(value),)
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidSubnetError(
            f"subnet field '{name}' must be a list of integers, got {value!r}",
            f"write '{name}' as a list such as [3, 5, 7, ...]",
        ) from None
    return out


@dataclass(frozen=True, eq=False)
class SubnetConfig:
    """A subnet of a (possibly early-exit or parallel) elastic MobileNetV3.

    ks, e: kernel size and expand ratio per layer slot (20 entries).
    d: depth per stage (5 entries). r: input resolution. w: width multiplier.
    nd: exit stage 1..5 for early-exit supernets (None = last stage, single exit).
    nw: per-layer parallel-branch mask key 1..7 for parallel supernets (None = not parallel).
    """

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int
    w: float = 1.0
    nd: int | None = None
    nw: tuple[int, ...] | None = None
    _key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "ks", _as_int_tuple("ks", self.ks))
        set_(self, "e", _as_int_tuple("e", self.e))
        set_(self, "d", _as_int_tuple("d", self.d))
        if self.nw is not None:
            set_(self, "nw", _as_int_tuple("nw", self.nw))
        set_(self, "r", int(self.r))
        set_(self, "w", float(self.w))
        if self.nd is not None:
            set_(self, "nd", int(self.nd))
        for name in ("ks", "e") + (("nw",) if self.nw is not None else ()):
            got = len(getattr(self, name))
            if got != N_LAYERS:
                raise InvalidSubnetError(
                    f"subnet field '{name}' has {got} entries; a full config has {N_LAYERS} (one per layer slot)",
                    "use SubnetConfig.from_dict, which also accepts lists of active layers only",
                )
        if len(self.d) != N_STAGES:
            raise InvalidSubnetError(
                f"subnet field 'd' has {len(self.d)} entries; expected {N_STAGES} (one per stage)",
                "give one depth per stage, e.g. d=[4, 4, 4, 4, 4]",
            )
        for s, depth in enumerate(self.d):
            if not 1 <= depth <= SLOTS_PER_STAGE:
                raise InvalidSubnetError(
                    f"subnet field 'd' has depth {depth} in stage {s + 1}; allowed 1..{SLOTS_PER_STAGE}",
                    "pick a depth the supernet has",
                )
        if self.nd is not None and not 1 <= self.nd <= N_STAGES:
            raise InvalidSubnetError(
                f"subnet field 'nd' is {self.nd}; exits are numbered 1..{N_STAGES}", "pick an existing exit"
            )
        set_(self, "_key", self._canonical_key())

    # ----------------------------------------------------------------- structure
    @property
    def n_active_stages(self) -> int:
        """Stages the subnet runs: all five, or up to its exit."""
        return self.nd if self.nd is not None else N_STAGES

    def active_layers(self) -> Iterator[tuple[int, int, int]]:
        """Yield (stage, slot, layer_index) of every layer the subnet runs, in order."""
        for s in range(self.n_active_stages):
            for j in range(self.d[s]):
                yield s, j, s * SLOTS_PER_STAGE + j

    def active_layer_indices(self) -> list[int]:
        return [i for _, _, i in self.active_layers()]

    # ----------------------------------------------------------------- identity
    def _canonical_key(self) -> tuple:
        idx = self.active_layer_indices()
        return (
            self.r,
            self.w,
            self.nd,
            tuple(self.d[: self.n_active_stages]),
            tuple(self.ks[i] for i in idx),
            tuple(self.e[i] for i in idx),
            None if self.nw is None else tuple(self.nw[i] for i in idx),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubnetConfig):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def canonical(self) -> "SubnetConfig":
        """The same subnet with placeholders normalised (inactive slots repeat the last active one)."""
        return SubnetConfig.from_dict(self.to_dict(canonical=True))

    def digest(self, n: int = 12) -> str:
        """A short stable hash of the canonical form, for file names and logs."""
        blob = json.dumps(self.to_dict(canonical=True), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:n]

    @property
    def key(self) -> str:
        """The subnet's identity across natv2's files (journal, final test, report, fine-tuning look-ups):
        equal for equal subnets, whatever their inactive slots hold."""
        return self.digest(KEY_LENGTH)

    def file_stem(self) -> str:
        exit_part = f"-x{self.nd}" if self.nd is not None else ""
        return f"r{self.r}-w{self.w:g}{exit_part}-{self.digest()}"

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self, canonical: bool = False) -> dict[str, Any]:
        """OFA/NAT-style dict. `canonical=True` keeps only the active layers and stages (NAT's format)."""
        if canonical:
            idx = self.active_layer_indices()
            out: dict[str, Any] = {
                "ks": [self.ks[i] for i in idx],
                "e": [self.e[i] for i in idx],
                "d": list(self.d[: self.n_active_stages]),
            }
            if self.nw is not None:
                out["nw"] = [self.nw[i] for i in idx]
        else:
            out = {"ks": list(self.ks), "e": list(self.e), "d": list(self.d)}
            if self.nw is not None:
                out["nw"] = list(self.nw)
        out["r"] = self.r
        out["w"] = self.w
        if self.nd is not None:
            out["nd"] = self.nd
        return out

    def to_json(self, canonical: bool = False) -> str:
        return json.dumps(self.to_dict(canonical=canonical), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SubnetConfig":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], r: int | None = None) -> "SubnetConfig":
        """Accept a full config (20-layer lists) or NAT's pruned one (active layers only).

        Pruned configs are expanded by repeating the last active layer of a stage (and the last
        active stage for stages past an early exit); those slots never run, so any value is exact.
        """
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise InvalidSubnetError(
                f"unknown subnet field(s) {sorted(unknown)}; allowed fields are {sorted(_KNOWN_KEYS)}",
                "remove or rename the field",
            )
        for key in ("ks", "e", "d"):
            if key not in data:
                raise InvalidSubnetError(f"subnet config lacks field '{key}'", "give ks, e and d (and r)")
        res = data.get("r", r)
        if res is None:
            raise InvalidSubnetError("subnet config lacks the resolution 'r'", "add r, e.g. r=32")
        nd = data.get("nd")
        nd = None if nd is None else int(nd)
        d = list(_as_int_tuple("d", data["d"]))
        n_run = nd if nd is not None else N_STAGES
        if len(d) < N_STAGES:
            if len(d) != n_run or not d:
                raise InvalidSubnetError(
                    f"subnet field 'd' has {len(d)} entries; expected {N_STAGES}, or {n_run} when pruned",
                    "give one depth per stage",
                )
            d = d + [d[-1]] * (N_STAGES - len(d))
        layers = {k: list(_as_int_tuple(k, data[k])) for k in ("ks", "e", "nw") if data.get(k) is not None}
        n_active = sum(d[:n_run])
        for key, vals in layers.items():
            if len(vals) == N_LAYERS:
                continue
            if len(vals) != n_active:
                raise InvalidSubnetError(
                    f"subnet field '{key}' has {len(vals)} entries; expected {N_LAYERS} (all slots) "
                    f"or {n_active} (active layers of d={d[:n_run]})",
                    "make the per-layer lists match the depths",
                )
            layers[key] = _expand_pruned(vals, d, n_run)
        return cls(
            ks=tuple(layers["ks"]),
            e=tuple(layers["e"]),
            d=tuple(d),
            r=int(res),
            w=float(data.get("w", 1.0)),
            nd=nd,
            nw=None if "nw" not in layers else tuple(layers["nw"]),
        )


def _expand_pruned(vals: Sequence[int], d: Sequence[int], n_run: int) -> list[int]:
    full: list[int] = []
    pos = 0
    last = vals[0]
    for s in range(N_STAGES):
        stage_vals = list(vals[pos : pos + d[s]]) if s < n_run else []
        pos += d[s] if s < n_run else 0
        if stage_vals:
            last = stage_vals[-1]
        full.extend(stage_vals + [last] * (SLOTS_PER_STAGE - len(stage_vals)))
    return full
