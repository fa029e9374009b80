"""Support for property-based tests of the compiler and the hardware: random layer
configurations and their bit-exact checks against the golden model."""

from .bit_exact import (CaseResult, GraphResult, Prepared, check_engine, check_rtl,
                        compare_blocks, prepare, random_images, random_params)
from .random_graphs import (BLOCK_KINDS, UNMAPPABLE_OPTIONS, BlockSpec, Draw, GraphSpec, LayerSpec,
                            block_tensors, build_graph, draw_graph_spec, numpy_draw)

__all__ = ["Draw", "LayerSpec", "BlockSpec", "GraphSpec", "BLOCK_KINDS", "UNMAPPABLE_OPTIONS",
           "draw_graph_spec", "numpy_draw", "build_graph", "block_tensors", "Prepared",
           "CaseResult", "GraphResult", "prepare", "check_engine", "check_rtl",
           "compare_blocks", "random_params", "random_images"]
