"""Weight sharing (Deep Compression): a layer's weights as indices into a small codebook.

The codebook of a layer comes from one-dimensional k-means over its float weights with
linear initialization (centroids evenly spaced between the smallest and the largest weight,
as Han et al. found best for accuracy: it keeps centroids on the rare large weights), then
Lloyd iterations. A layer whose weights already take few enough distinct values (an imported
Deep Compression model) keeps exactly those values. The codebook is then quantized to
integer codes with one power-of-two scale for the layer.
"""

from dataclasses import dataclass

import numpy as np

from .fixed_point import choose_frac

__all__ = ["KMEANS_ITERATIONS", "FRAC_CANDIDATES", "SharedWeights", "IntegerCodebook",
           "linear_kmeans", "share_weights", "codebook_codes", "integer_codebook"]

#: Most Lloyd iterations of :func:`linear_kmeans`; it stops earlier once no weight changes
#: cluster (a fixed point). The layers of SqueezeNet v1.1 converge within 1,000 (linear
#: initialization puts few centroids in the dense middle, which then move in slowly: 50
#: iterations leave up to 2.5x the converged squared error at 6 bits).
KMEANS_ITERATIONS = 1000


def linear_kmeans(values, k: int, iterations: int = KMEANS_ITERATIONS
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One-dimensional k-means of ``values`` with ``k`` linearly initialized centroids.

    Returns ``(centroids, labels)``: the ``k`` centroids in ascending order (float64; a
    cluster that ends up empty keeps its last position) and the nearest centroid of every
    value (int64, the shape of ``values``). Deterministic: the same values give the same
    result.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ravel()
    if k < 1:
        raise ValueError(f"k-means needs at least one cluster, not {k!r}")
    if flat.size == 0:
        raise ValueError("k-means of no values")
    # Sorted once, every cluster is a run of the sorted values: a Lloyd step is then a
    # search for the k - 1 boundaries and differences of a prefix sum, O(k log n).
    xs = np.sort(flat)
    prefix = np.concatenate([[0.0], np.cumsum(xs)])
    centroids = np.linspace(xs[0], xs[-1], k)
    edges = _edges(centroids, xs)
    for _ in range(iterations):
        counts = np.diff(edges)
        sums = prefix[edges[1:]] - prefix[edges[:-1]]
        filled = counts > 0
        centroids = centroids.copy()
        centroids[filled] = sums[filled] / counts[filled]
        # Lloyd steps keep 1-D centroids in order; sorting guards against rounding.
        centroids = np.sort(centroids)
        new = _edges(centroids, xs)
        if np.array_equal(new, edges):
            break
        edges = new
    labels = np.searchsorted(_midpoints(centroids), flat, side="right")
    return centroids, labels.reshape(x.shape).astype(np.int64)


def _midpoints(centroids: np.ndarray) -> np.ndarray:
    """Boundaries between the clusters of ascending ``centroids``: a value nearest to a
    centroid lies between its two midpoints (one on a midpoint goes to the upper one)."""
    return (centroids[:-1] + centroids[1:]) / 2


def _edges(centroids: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Where each cluster's run of the sorted values ``xs`` starts, and ``len(xs)``."""
    inner = np.searchsorted(xs, _midpoints(centroids), side="left")
    return np.concatenate([[0], inner, [len(xs)]])


#: How many scales :func:`codebook_codes` tries, from the one that clips no entry upwards.
FRAC_CANDIDATES = 4


@dataclass(frozen=True)
class SharedWeights:
    """A layer's float weights as a codebook and indices.

    Attributes
    ----------
    codebook : np.ndarray
        float64 ``(K,)`` ascending shared values, every one used by some weight.
    index : np.ndarray
        int64, the shape of the weights: the entry of each weight, -1 where the weight is
        not stored (a pruned zero).
    kept : bool
        The weights already took at most ``2**index_bits`` distinct values, which are the
        codebook exactly (no k-means).
    """

    codebook: np.ndarray
    index: np.ndarray
    kept: bool

    def counts(self) -> np.ndarray:
        """How many weights use each codebook entry."""
        return np.bincount(self.index[self.index >= 0], minlength=len(self.codebook))

    def decoded(self) -> np.ndarray:
        """The float weights the codebook and indices stand for."""
        return np.where(self.index >= 0, self.codebook[np.maximum(self.index, 0)], 0.0)


def share_weights(weights, index_bits: int, pruned: bool,
                  iterations: int = KMEANS_ITERATIONS) -> SharedWeights:
    """The codebook (at most ``2**index_bits`` entries) and indices of ``weights``.

    ``pruned``: weights equal to zero are not stored (index -1) and the codebook covers
    the nonzero weights only; otherwise every weight is stored, zeros included. When the
    stored weights take at most ``2**index_bits`` distinct values, those values are the
    codebook exactly; otherwise it is :func:`linear_kmeans`, without the clusters that
    ended up empty.
    """
    w = np.asarray(weights, dtype=np.float64)
    stored = w != 0 if pruned else np.ones(w.shape, dtype=bool)
    values = w[stored]
    index = np.full(w.shape, -1, dtype=np.int64)
    if values.size == 0:  # nothing stored: a one-entry codebook no index points to
        return SharedWeights(codebook=np.zeros(1), index=index, kept=True)
    distinct = np.unique(values)
    if len(distinct) <= 1 << index_bits:
        index[stored] = np.searchsorted(distinct, values)
        return SharedWeights(codebook=distinct, index=index, kept=True)
    centroids, labels = linear_kmeans(values, 1 << index_bits, iterations)
    used = np.bincount(labels, minlength=len(centroids)) > 0
    renumber = np.cumsum(used) - 1
    index[stored] = renumber[labels]
    return SharedWeights(codebook=centroids[used], index=index, kept=False)


def codebook_codes(shared: SharedWeights, weight_bits: int) -> tuple[np.ndarray, int]:
    """``(codes, frac)``: the codebook as ``weight_bits``-bit signed integer codes with one
    power-of-two scale, ``codes = clip(round(codebook * 2**frac))``.

    ``frac`` is the one with the least squared error over the layer's stored weights (each
    entry counted as often as weights use it) among :data:`FRAC_CANDIDATES` steps from the
    largest ``frac`` whose range holds the largest entry
    (:func:`~fpgagen.numerics.fixed_point.choose_frac`, the rule of a dense layer): a finer
    step that clips the few largest entries often loses less than a coarse one that rounds
    every weight of the layer.
    """
    qmax = (1 << (weight_bits - 1)) - 1
    cb = shared.codebook
    counts = shared.counts().astype(np.float64)
    first = choose_frac(float(np.abs(cb).max(initial=0.0)), qmax)
    best = None
    for frac in range(first, first + FRAC_CANDIDATES):
        codes = np.clip(np.round(cb * 2.0 ** frac), -qmax - 1, qmax)
        error = float(np.sum(counts * (codes * 2.0 ** -frac - cb) ** 2))
        if best is None or error < best[0]:
            best = (error, codes.astype(np.int64), frac)
    return best[1], best[2]


@dataclass(frozen=True)
class IntegerCodebook:
    """A compressed layer's integer form: ``weight = codes[index] * 2**-frac`` (0 where
    ``index`` is -1).

    Attributes
    ----------
    codes : np.ndarray
        int64 ``(K,)`` signed ``weight_bits``-bit codes.
    index : np.ndarray
        int64, the shape of the weights; -1 where a weight is not stored.
    frac : int
        The layer's scale.
    kept : bool
        The codebook is the weights' own values (see :class:`SharedWeights`).
    """

    codes: np.ndarray
    index: np.ndarray
    frac: int
    kept: bool

    def decoded(self) -> np.ndarray:
        """The integer weight codes, ``where(index >= 0, codes[index], 0)``."""
        return np.where(self.index >= 0, self.codes[np.maximum(self.index, 0)], 0)


def integer_codebook(weights, index_bits: int, pruned: bool, weight_bits: int,
                     iterations: int = KMEANS_ITERATIONS) -> IntegerCodebook:
    """The codebook of ``weights`` (:func:`share_weights`) as ``weight_bits``-bit codes
    (:func:`codebook_codes`).

    A codebook from k-means then takes one more assignment step on the integer codes: each
    weight goes to its nearest code, and entries that round to the same code become one
    (rounding moves entries, so some weights are then nearer to a neighbour's code). A
    kept codebook keeps its entries and indices as they are, one code per value.
    """
    w = np.asarray(weights, dtype=np.float64)
    shared = share_weights(w, index_bits, pruned, iterations)
    codes, frac = codebook_codes(shared, weight_bits)
    index = shared.index
    if not shared.kept:
        grid = np.unique(codes)
        stored = index >= 0
        index = np.full(w.shape, -1, dtype=np.int64)
        nearest = np.searchsorted(_midpoints(grid * 2.0 ** -frac), w[stored], side="right")
        used = np.bincount(nearest, minlength=len(grid)) > 0
        index[stored] = (np.cumsum(used) - 1)[nearest]
        codes = grid[used]
    return IntegerCodebook(codes=codes, index=index, frac=frac, kept=shared.kept)
