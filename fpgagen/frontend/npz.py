"""Load weights from the ``.npz`` layout of the released SqueezeNet models
(``conv1.weight``, ``fire2.squeeze1x1.weight``, ..., ``conv10.bias``)."""

import zipfile
from pathlib import Path

import numpy as np

from ..errors import FpgagenError
from ..ir import Graph

__all__ = ["npz_key", "load_npz_weights", "attach_weights", "save_npz_weights"]


def npz_key(node_name: str, what: str) -> str:
    """The ``.npz`` key of a conv node's ``weight`` or ``bias`` (``/`` becomes ``.``)."""
    return f"{node_name.replace('/', '.')}.{what}"


def load_npz_weights(graph: Graph, path) -> Graph:
    """Return ``graph`` with the float weights of ``path`` attached, after checking that the
    file holds exactly the expected tensors with the expected shapes and finite values."""
    path = Path(path)
    if not path.is_file():
        raise FpgagenError(f"weights file not found: {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise FpgagenError(f"cannot read {str(path)!r} as a .npz weights file: {e}") from None
    return attach_weights(graph, arrays, source=str(path))


def attach_weights(graph: Graph, arrays: dict, source: str = "weights") -> Graph:
    """Attach ``{npz key: array}`` to the conv nodes of ``graph``, checking keys, shapes
    and values."""
    expected = {}
    for name, (wshape, bshape) in graph.weight_shapes().items():
        expected[npz_key(name, "weight")] = (name, "weight", wshape)
        expected[npz_key(name, "bias")] = (name, "bias", bshape)
    missing = [k for k in expected if k not in arrays]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FpgagenError(f"{source}: missing tensor {missing[0]!r}{more} needed by "
                           f"{graph.name}")
    extra = sorted(k for k in arrays if k not in expected)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise FpgagenError(f"{source}: unexpected tensor {extra[0]!r}{more}: not a parameter "
                           f"of {graph.name} (wrong network or options?)")
    params = {}
    for key, (name, what, shape) in expected.items():
        arr = np.asarray(arrays[key])
        if tuple(arr.shape) != tuple(shape):
            raise FpgagenError(f"{source}: tensor {key!r} has shape {tuple(arr.shape)}, "
                               f"expected {tuple(shape)}")
        if not np.issubdtype(arr.dtype, np.number):
            raise FpgagenError(f"{source}: tensor {key!r} has non-numeric dtype {arr.dtype}")
        arr = arr.astype(np.float32)
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise FpgagenError(f"{source}: tensor {key!r} holds {int(bad.sum())} NaN/Inf "
                               f"value(s), first at index {idx}: {arr[idx]}")
        params.setdefault(name, {})[what] = arr
    return graph.replace(params=params)


def save_npz_weights(graph: Graph, path) -> None:
    """Write the float weights of ``graph`` in the same ``.npz`` layout."""
    arrays = {npz_key(n, w): a for n, p in graph.params.items() for w, a in p.items()}
    np.savez(path, **arrays)
