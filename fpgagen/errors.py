"""The one exception type users see as a single clear line."""

__all__ = ["FpgagenError"]


class FpgagenError(Exception):
    """A problem with the user's input (network, weights, options) that fpgagen reports
    as one line on the terminal, never as a traceback."""
