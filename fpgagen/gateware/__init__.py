"""Amaranth hardware blocks of the accelerator (each a ``wiring.Component``)."""
