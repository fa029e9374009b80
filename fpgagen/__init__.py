"""fpgagen: compile SqueezeNet-family CNNs into on-chip-weight FPGA accelerators."""

__version__ = "0.1.0"

__all__ = ["__version__"]
