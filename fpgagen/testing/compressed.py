"""Random compressed weights for tests: a quantized graph's convolutions turned into
codebook layers with random codebooks, indices and pruning, including the cases the
decoder must get right (empty output channels, input channels never used, long runs of
unstored weights)."""

import dataclasses

import numpy as np

from ..ir import ConvQuant, Graph

__all__ = ["compress_randomly"]


def compress_randomly(graph: Graph, rng: np.random.Generator, index_bits, density) -> Graph:
    """``graph`` (quantized) with every convolution compressed: a codebook of up to
    ``2**index_bits`` random codes within the graph's weight width, each weight a random
    entry, kept with probability ``density`` (else not stored: 0). Besides, each layer
    may lose a whole output channel and a whole input channel (drawn). A ``density`` of
    ``None`` stores every weight (a ``codebook:B`` layer, nothing pruned). ``index_bits``
    and ``density`` may be sequences, taken in turn by the convolutions in graph order; an
    ``index_bits`` of 0 leaves its convolution dense."""
    if graph.quant is None:
        raise ValueError(f"graph {graph.name!r} is not quantized")
    layers = dict(graph.quant.layers)
    qmax = (1 << (graph.quant.weight_bits - 1)) - 1
    bits_seq = list(np.atleast_1d(index_bits))
    dens_seq = list(density) if isinstance(density, (tuple, list)) else [density]
    convs = [n for n in graph.nodes if isinstance(layers.get(n.name), ConvQuant)]
    for k, node in enumerate(convs):
        name, q = node.name, layers[node.name]
        index_bits = int(bits_seq[k % len(bits_seq)])
        density = dens_seq[k % len(dens_seq)]
        if index_bits == 0:
            continue
        whole = density is None
        size = int(rng.integers(1, (1 << index_bits) + 1))
        codebook = rng.integers(-qmax, qmax + 1, size=size)
        shape = np.shape(q.weight)
        index = rng.integers(0, size, size=shape)
        if not whole:
            index[rng.random(shape) >= float(density)] = -1
            if shape[0] > 1 and rng.random() < 0.5:
                index[rng.integers(shape[0])] = -1  # an empty output channel
            if shape[1] > 1 and rng.random() < 0.5:
                index[:, rng.integers(shape[1])] = -1  # an input channel no weight reads
        weight = np.where(index >= 0, codebook[np.maximum(index, 0)], 0).astype(np.int16)
        frac = np.full_like(np.asarray(q.weight_frac), int(np.max(q.weight_frac)))
        layers[name] = dataclasses.replace(q, weight=weight, weight_frac=frac,
                                           codebook=codebook.astype(np.int64),
                                           index=index.astype(np.int64),
                                           index_bits=index_bits)
    return graph.replace(quant=dataclasses.replace(graph.quant, layers=layers))
