"""Load weights from the ``.npz`` layout of the released SqueezeNet models
(``conv1.weight``, ``fire2.squeeze1x1.weight``, ..., ``conv10.bias``)."""

import logging
import zipfile
from pathlib import Path

import numpy as np

from ..errors import FpgagenError
from .files import require_file
from ..ir import Graph
from ..ir.quant import MAX_INDEX_BITS
from ..ir.weight_format import WeightFormat

__all__ = ["MAX_ABS_PARAM", "npz_key", "load_npz_weights", "attach_weights",
           "save_npz_weights", "check_param_values", "warn_zero_weights",
           "released_weight_format"]

log = logging.getLogger(__name__)

#: Largest magnitude accepted for a weight or bias. Trained CNN parameters are a few units at
#: most (the released SqueezeNets: below 8); values this large are a corrupt or wrongly
#: scaled file, and would overflow the float model's activations into Inf and NaN.
MAX_ABS_PARAM = 1e6


def npz_key(node_name: str, what: str) -> str:
    """The ``.npz`` key of a conv node's ``weight`` or ``bias`` (``/`` becomes ``.``)."""
    return f"{node_name.replace('/', '.')}.{what}"


def load_npz_weights(graph: Graph, path) -> Graph:
    """Return ``graph`` with the float weights of ``path`` attached, after checking that the
    file is a ``.npz`` archive holding exactly the expected tensors with the expected shapes
    and sane values (see :func:`attach_weights`).

    Raises
    ------
    FpgagenError
        One line naming the problem: ``path`` missing or a directory, a ``.npy`` or any
        other non-``.npz`` file, an archive that is empty or unreadable, or a tensor that
        :func:`attach_weights` refuses.
    """
    path = Path(path)
    require_file(path, name="weights", expected="a .npz file", missing="weights file")
    arrays = _read_npz(path)
    return attach_weights(graph, arrays, source=str(path))


def released_weight_format(path) -> WeightFormat | None:
    """The format a weights file was released in when it was compressed: ``pruned:8``
    when every conv weight tensor of the ``.npz`` file (its 4-D arrays) has zeros and at
    most 256 distinct nonzero values (pruned and shared, as Deep Compression releases
    them), so that storing it ``pruned:8`` keeps every value and drops the zeros; ``None``
    for anything else (dense weights, a file that is not ``.npz``)."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    convs = [a for a in _read_npz(path).values() if np.ndim(a) == 4]
    shared = convs and all(
        (a == 0).any() and np.unique(a[a != 0]).size <= 1 << MAX_INDEX_BITS for a in convs)
    return WeightFormat.parse(f"pruned:{MAX_INDEX_BITS}") if shared else None


def _read_npz(path: Path) -> dict:
    """The arrays of a ``.npz`` archive, by key; one clear error for anything else."""
    cannot = f"cannot read {str(path)!r} as a .npz weights file"
    # We open the file ourselves: np.load leaks its own handle when a zip is damaged.
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0)
        # np.load tells a .npz (zip), a .npy and a pickle apart by these first bytes; a file
        # that is neither would get numpy's pickle message, which misleads here.
        if head.startswith(b"\x93NUMPY"):
            raise FpgagenError(f"{cannot}: it is a .npy file (a single array), not a .npz "
                               f"archive of named tensors (conv1.weight, conv1.bias, ...)")
        if not head.startswith(b"PK"):
            found = "the file is empty" if not head else f"it starts with {head!r}"
            raise FpgagenError(f"{cannot}: not a zip archive of named tensors ({found})")
        arrays = {}
        try:
            with np.load(f, allow_pickle=False) as data:
                if not data.files:
                    raise FpgagenError(f"{str(path)!r} is an empty .npz archive: no tensors")
                for key in data.files:
                    try:
                        arrays[key] = data[key]
                    except ValueError as e:
                        if "allow_pickle" not in str(e):
                            raise
                        raise FpgagenError(f"{str(path)!r}: tensor {key!r} holds Python "
                                           f"objects, not numbers") from None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise FpgagenError(f"{cannot}: {str(e) or type(e).__name__}") from None
    return arrays


def attach_weights(graph: Graph, arrays: dict, source: str = "weights") -> Graph:
    """Attach ``{npz key: array}`` to the conv nodes of ``graph``, checking keys, shapes
    and values.

    Values are checked by :func:`check_param_values`: real integer or float numbers, finite,
    of magnitude below :data:`MAX_ABS_PARAM`; anything else is refused. A weight tensor that
    is all zero is accepted with one logged warning for the whole file
    (:func:`warn_zero_weights`): the network still runs, but that layer ignores its input,
    which is most likely a damaged file. All-zero biases are common and accepted silently.
    """
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
        params.setdefault(name, {})[what] = check_param_values(arr, f"{source}: tensor "
                                                                    f"{key!r}")
    warn_zero_weights({npz_key(n, "weight"): p["weight"] for n, p in params.items()}, source)
    return graph.replace(params=params)


def check_param_values(arr, label: str) -> np.ndarray:
    """``arr`` as float32 after checking that it holds real numbers (integer or float
    dtype), all finite and of magnitude below :data:`MAX_ABS_PARAM`.

    ``label`` names the tensor in the error, e.g. ``"w.npz: tensor 'conv1.weight'"``.
    """
    arr = np.asarray(arr)
    if arr.dtype.kind == "c":
        raise FpgagenError(f"{label} has complex dtype {arr.dtype}; weights must be real")
    if arr.dtype.kind not in "iuf":
        raise FpgagenError(f"{label} has non-numeric dtype {arr.dtype}")
    # Checked in float64, so values beyond float32's range show as they are in the file.
    wide = arr.astype(np.float64)
    bad = ~np.isfinite(wide)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise FpgagenError(f"{label} holds {int(bad.sum())} NaN/Inf value(s), first at index "
                           f"{idx}: {wide[idx]}")
    big = np.abs(wide) >= MAX_ABS_PARAM
    if big.any():
        idx = tuple(int(i) for i in np.argwhere(big)[0])
        raise FpgagenError(f"{label} holds {int(big.sum())} value(s) of magnitude >= "
                           f"{MAX_ABS_PARAM:g}, first at index {idx}: {wide[idx]:g} "
                           f"(corrupt or wrongly scaled weights?)")
    return wide.astype(np.float32)


def warn_zero_weights(weights: dict, source: str) -> None:
    """Log one warning naming the weight tensors of ``{name: array}`` that are all zero."""
    zero = [k for k, w in weights.items() if not np.any(w)]
    if zero:
        if len(zero) == 1:
            log.warning("%s: weight tensor %r is all zero: that layer ignores its input",
                        source, zero[0])
        else:
            log.warning("%s: weight tensor %r (and %d more) are all zero: those layers ignore "
                        "their input", source, zero[0], len(zero) - 1)


def save_npz_weights(graph: Graph, path) -> None:
    """Write the float weights of ``graph`` in the same ``.npz`` layout."""
    arrays = {npz_key(n, w): a for n, p in graph.params.items() for w, a in p.items()}
    np.savez(path, **arrays)
