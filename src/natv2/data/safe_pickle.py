"""Reading the official CIFAR python batches without trusting pickle.

`pickle.load` runs whatever callable the file names, so a doctored "data_batch_1" could run
code. The CIFAR batches only need dicts, lists, bytes, ints and numpy arrays; this unpickler
resolves exactly the three numpy globals an ndarray pickle references and refuses every other
global, so nothing else can be constructed or called.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from natv2.errors import DataError


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    # Python 3 writes bytes under protocol 2 as _codecs.encode(str, 'latin1'): a pure function.
    ("_codecs", "encode"): lambda: __import__("codecs").encode,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return factory()


def load_plain(data: bytes, what: str) -> Any:
    """Unpickle `data` allowing only plain containers and numpy arrays (never object arrays)."""
    try:
        obj = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:
        raise DataError(
            f"{what} is not a plain CIFAR batch file ({type(exc).__name__}: {exc})",
            fix="use the official CIFAR python files (cifar-*-python.tar.gz), or data.download=true.",
        ) from None
    _reject_object_arrays(obj, what)
    return obj


def _reject_object_arrays(obj: Any, what: str) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise DataError(f"{what} holds an object array", fix="use the official CIFAR python files.")
    if isinstance(obj, dict):
        for v in obj.values():
            _reject_object_arrays(v, what)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _reject_object_arrays(v, what)
