"""Analyses of a graph next to fpgagen's own cycle model: the analytic dataflow model of
the SqueezeNext paper's PE-array simulator (``dataflow``)."""

from .dataflow import Dataflow, LayerDataflow, dataflow_cycles, layer_dataflow

__all__ = ["Dataflow", "LayerDataflow", "dataflow_cycles", "layer_dataflow"]
