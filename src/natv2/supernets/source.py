"""Transfer sources: a supernet trained once on a source dataset, reused on every new target.

A user names a source three ways: a natv2 run directory (its trained supernet), a natv2 supernet
checkpoint (`<stem>.safetensors` + `<stem>.json`), or a checkpoint of the `ofa` package
(`.pth`/`.pth.tar`, OFA's published ImageNet supernets). `resolve_source` turns each into one
`Source`: what the supernet is (family, width, trained space and resolutions), what it was trained
on (dataset, classes) and a content hash. `Source.check` refuses a config the source cannot serve
(another family or width, a structure it never trained) before anything is written;
`Source.build` gives the target's supernet: the source's weights with new heads on every exit.

The resolution rule (`Source.target_resolutions`): a target is trained and searched at the source's
resolutions that do not exceed its own image size (the smallest source resolution when none fits),
so no image is upsampled past what the source learnt from; `train.space.r` picks others explicitly
(`Source.resolution_note` warns when they lie outside the source's trained range).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from natv2.errors import CheckpointError, ConfigError
from natv2.io.artifacts import REL_TRAINED_SUPERNET
from natv2.io.source_record import SOURCE_FORMAT, describe_source, read_source_record, source_summary

OFA_SUFFIXES = (".pth", ".tar", ".pt")
OFA_FAMILY = "ofa_mbv3"
OFA_DATASET = "imagenet"
OFA_RESOLUTIONS = (128, 160, 192, 224)  # OFA's ImageNet training resolutions (elastic, 128-224 px)
# Dimensions fixed by the weights' structure: a target may narrow them, never add values.
STRUCTURE_DIMS = ("ks", "e", "d", "nd", "nw")
_FIX_PATH = (f"pass a natv2 run directory (its {REL_TRAINED_SUPERNET}.safetensors), a natv2 supernet "
             "checkpoint (.safetensors with its .json) or an `ofa` package checkpoint (.pth)")


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (a source's identity: same hash, same weights)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Source:
    """What a transfer starts from. `space` is the source supernet's trained space (dims -> values)."""

    kind: str  # "natv2" or "ofa"
    weights: Path
    sha256: str
    supernet: str
    width_mult: float
    space: Mapping[str, Any]
    dataset: str | None
    n_classes: int
    class_names: tuple[str, ...] | None = None
    named: str = ""  # what the user passed
    arch: Mapping[str, Any] | None = field(default=None, repr=False)  # natv2: Supernet.arch_dict()

    @property
    def resolutions(self) -> tuple[int, ...]:
        return tuple(int(r) for r in self.space["r"])

    def card(self) -> dict[str, Any]:
        """The JSON description a run directory, the report and exported models keep."""
        return {"format": SOURCE_FORMAT, "kind": self.kind, "path": str(self.weights), "sha256": self.sha256,
                "supernet": self.supernet, "width_mult": self.width_mult, "space": dict(self.space),
                "resolutions": list(self.resolutions), "dataset": self.dataset, "n_classes": self.n_classes,
                "class_names": list(self.class_names) if self.class_names is not None else None}

    # ------------------------------------------------------------------ checks
    def check(self, supernet: str, width_mult: float, space: Mapping[str, Any], key: str = "train") -> None:
        """Refuse a target config the source cannot serve (ConfigError naming the key and the fix)."""
        if supernet != self.supernet:
            raise ConfigError(f"the source {self.named or self.weights} is a supernet of family '{self.supernet}', but "
                              f"{key}.supernet is '{supernet}'",
                              f"--set {key}.supernet={self.supernet}, or pass a source of family '{supernet}'")
        if float(width_mult) != float(self.width_mult):
            raise ConfigError(f"the source {self.named or self.weights} has width multiplier {self.width_mult}, but "
                              f"{key}.width_mult is {width_mult}",
                              f"--set {key}.width_mult={self.width_mult}, or pass a source of width {width_mult}")
        for dim, values in space.items():
            if values is None or dim in ("w", "r"):  # any resolution runs; resolution_note warns outside the trained range
                continue
            vals = [values] if isinstance(values, (int, float)) else list(values)
            trained = self.space.get(dim)
            if trained is None or dim not in STRUCTURE_DIMS:
                raise ConfigError(f"{key}.space sets '{dim}', which the source supernet ({self.supernet}) does not have",
                                  f"drop '{dim}' from {key}.space")
            untrained = [v for v in vals if v not in trained]
            if untrained or not vals:
                raise ConfigError(f"{key}.space.{dim}={vals}: the source {self.named or self.weights} never trained "
                                  f"{dim} {untrained or vals} (it trained {list(trained)})",
                                  f"choose {dim} values from {list(trained)}")
            if max(vals) != max(trained):
                raise ConfigError(f"{key}.space.{dim}={vals} drops the source's largest {dim} ({max(trained)}), "
                                  "whose weights every smaller choice is sliced from",
                                  f"keep {max(trained)} in {key}.space.{dim}, or narrow the search instead "
                                  f"(--set search_stage.space.{dim}={vals})")

    def resolution_note(self, resolutions: Sequence[int]) -> str | None:
        """A warning when target resolutions lie outside the range the source was trained over."""
        lo, hi = min(self.resolutions), max(self.resolutions)
        outside = [int(r) for r in resolutions if not lo <= int(r) <= hi]
        if not outside:
            return None
        return (f"the source {self.named or self.weights} was trained at {list(self.resolutions)} px; {outside} px "
                "lies outside that range, so its weights start further from good there (the warm-up adapts them)")

    def target_resolutions(self, image_size: int, requested: Sequence[int] | None = None) -> list[int]:
        """The target's resolutions: `requested` when given, else the source's that fit the images."""
        if requested:
            return sorted(int(r) for r in requested)
        fitting = [r for r in self.resolutions if r <= int(image_size)]
        return fitting or [min(self.resolutions)]

    # ------------------------------------------------------------------ building
    def target_space(self, overrides: Mapping[str, Any], image_size: int) -> dict[str, Any]:
        """The source's space with the target's narrowing and resolutions (see the module docstring)."""
        self.check(self.supernet, self.width_mult, overrides)
        space = {k: list(v) for k, v in self.space.items() if v is not None}
        for dim, values in overrides.items():
            if values is not None and dim not in ("r", "w"):
                space[dim] = [values] if isinstance(values, (int, float)) else list(values)
        requested = overrides.get("r")
        requested = [requested] if isinstance(requested, (int, float)) else requested
        space["r"] = self.target_resolutions(image_size, requested)
        return space

    def keeps_heads(self, n_classes: int, class_names: Sequence[str] | None = None) -> bool:
        """Whether the target has the source's classes, so its heads stay: the same names (the same
        count where either side does not record names)."""
        if int(n_classes) != self.n_classes:
            return False
        return not (self.class_names and class_names) or list(class_names) == list(self.class_names)

    def build(self, n_classes: int, space: Mapping[str, Any], dropout: float | None = None,
              class_names: Sequence[str] | None = None) -> Any:
        """The target's supernet: the source's weights in `space` (from `target_space`), with new heads for
        `n_classes` classes on every exit unless `keeps_heads`. Seed torch first for reproducible heads."""
        import torch

        from natv2.supernets.checkpoint import load_weights_checked, read_weights
        from natv2.supernets.registry import create_from_arch

        if self.kind == "ofa":
            net = _ofa_supernet(self.weights, self.width_mult, space)
        else:
            arch = dict(self.arch or {})
            arch["space"] = dict(space)
            net = create_from_arch(arch)
            load_weights_checked(net, read_weights(self.weights), str(self.weights))
        if dropout is not None:
            from natv2.nn.dropout import set_dropout

            set_dropout(net, dropout)
        if not self.keeps_heads(n_classes, class_names):
            with torch.no_grad():
                net.with_classes(n_classes)
        net.set_max_net()
        return net


# ---------------------------------------------------------------------- resolving what the user names
def resolve_source(named: str | Path) -> Source:
    """The `Source` a user names (run directory, natv2 checkpoint or OFA checkpoint); a missing or
    foreign file is a CheckpointError that says what was expected."""
    path = Path(named).expanduser()
    if path.is_dir():
        return _from_run_dir(path, str(named))
    if path.suffix in OFA_SUFFIXES:
        if not path.is_file():
            raise CheckpointError(f"source '{named}' does not exist", _FIX_PATH)
        return _from_ofa(path, str(named))
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    json_path, weights = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".safetensors")
    if not json_path.is_file() and not weights.is_file():
        raise CheckpointError(f"source '{named}' does not exist (looked for {weights} and {json_path})", _FIX_PATH)
    return _from_checkpoint(stem, str(named))


def _from_run_dir(path: Path, named: str) -> Source:
    from natv2.io.artifacts import Layout

    stem = Layout(path).trained_supernet
    if not (stem.with_name(stem.name + ".json").is_file() and stem.with_name(stem.name + ".safetensors").is_file()):
        unfinished = Layout(path).checkpoint_state.is_file()
        raise CheckpointError(
            f"source '{named}' is a directory without a trained supernet (looked for {stem}.json and .safetensors)"
            + ("; its training has not finished" if unfinished else ""),
            f"finish it first (natv2 train-supernet --resume --run-dir {path})" if unfinished else _FIX_PATH)
    return _from_checkpoint(stem, named)


def _from_checkpoint(stem: Path, named: str) -> Source:
    from natv2.supernets.checkpoint import SUPERNET_FORMAT, _read_json_object

    json_path, weights = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".safetensors")
    if not json_path.is_file():
        raise CheckpointError(f"source '{named}': {weights} has no supernet description {json_path} beside it",
                              "keep the .json that natv2 wrote with the weights, or pass the run directory")
    if not weights.is_file():
        raise CheckpointError(f"source '{named}': the weights {weights} are missing beside {json_path}",
                              "keep the .safetensors that natv2 wrote with the description")
    doc = _read_json_object(json_path, "source supernet description", _FIX_PATH)
    arch = doc.get("arch")
    if doc.get("format") != SUPERNET_FORMAT or not isinstance(arch, dict):
        what = "a natv2 subnet (one extracted network), not a supernet" if doc.get("format") == "natv2-subnet" else (
            f"not a natv2 supernet description (format={doc.get('format')!r})")
        raise CheckpointError(f"source '{named}': {json_path} is {what}", _FIX_PATH)
    meta = doc.get("meta") or {}
    try:
        inner = arch["arch"]
        names = meta.get("class_names")
        return Source(kind="natv2", weights=weights.resolve(), sha256=file_sha256(weights), supernet=str(arch["name"]),
                      width_mult=float(inner["width_mult"]), space=dict(arch["space"]), dataset=meta.get("dataset"),
                      n_classes=int(inner["n_classes"]), class_names=tuple(names) if names else None,
                      named=named, arch=arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"source '{named}': {json_path} is malformed ({type(exc).__name__}: {exc})", _FIX_PATH) from None


def _read_ofa_state(path: Path) -> Mapping[str, Any]:
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for unsafe or damaged files
        raise CheckpointError(f"cannot read OFA checkpoint {path} with weights_only=True: {exc}",
                              "pass the plain state-dict checkpoint of the `ofa` package") from None


def _ofa_supernet(path: Path, width_mult: float, space: Mapping[str, Any] | None = None,
                  state: Mapping[str, Any] | None = None) -> Any:
    """ofa_mbv3 with the weights of the OFA checkpoint at `path` (its own classifier), narrowed to `space`."""
    from natv2.supernets.ofa_import import from_ofa_state_dict

    state = _read_ofa_state(path) if state is None else state
    dims = {k: v for k, v in dict(space or {}).items() if k != "w"}
    return from_ofa_state_dict(state, _ofa_classes(state, path), width_mult, **dims)


def _ofa_classes(state: Mapping[str, Any], path: Path) -> int:
    inner = state.get("state_dict", state) if isinstance(state, Mapping) else state
    head = next((v for k, v in inner.items() if k.endswith("classifier.linear.weight")), None) if isinstance(inner, Mapping) else None
    if head is None:
        raise CheckpointError(f"{path} holds no OFA classifier (no '*classifier.linear.weight')",
                              "pass an OFAMobileNetV3 checkpoint of the `ofa` package")
    return int(head.shape[0])


def _from_ofa(path: Path, named: str) -> Source:
    """An `ofa` package OFAMobileNetV3 checkpoint: ofa_mbv3 at the width its weights have (1.0 or 1.2)."""
    from natv2.errors import NatError

    state = _read_ofa_state(path)
    for width in (1.0, 1.2):
        try:
            net = _ofa_supernet(path, width, {"r": list(OFA_RESOLUTIONS)}, state)
        except NatError:
            continue
        return Source(kind="ofa", weights=path.resolve(), sha256=file_sha256(path), supernet=OFA_FAMILY,
                      width_mult=width, space=net.space.to_dict(), dataset=OFA_DATASET, n_classes=int(net.n_classes),
                      named=named)
    raise CheckpointError(f"source '{named}' is not an OFAMobileNetV3 checkpoint of width 1.0 or 1.2",
                          "pass ofa_mbv3_d234_e346_k357_w1.0 or _w1.2 of the `ofa` package")


# ---------------------------------------------------------------------- a run directory's record
def write_source_record(run_path: str | Path, source: Source, target: Mapping[str, Any]) -> Path:
    """Record in a run directory (train/source.json) which source its supernet came from and what the
    target made of it (`target`: classes, image size, space); resume and every later stage read it."""
    from natv2.io.artifacts import Layout
    from natv2.io.atomic import atomic_write_json

    path = Layout(run_path).transfer_source
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {**source.card(), "target": dict(target)})
    return path


def check_same_source(run_path: str | Path, source: Source) -> None:
    """Refuse to resume a transfer run whose source file changed since it started (the hash differs)."""
    recorded = read_source_record(run_path)
    if recorded is not None and recorded.get("sha256") != source.sha256:
        raise CheckpointError(
            f"the source {source.named or source.weights} is not the one this run started from: its SHA-256 is "
            f"{source.sha256[:16]}..., the run recorded {str(recorded.get('sha256'))[:16]}... ({recorded.get('path')})",
            "resume with the original source file, or start a new run directory")
