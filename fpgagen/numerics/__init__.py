"""The integer arithmetic contract (``docs/numerics.md``): the primitives the golden model
computes with, the fixed-point rules of quantization, and the lane arithmetic of the
engine model."""
