"""Output files: Verilog, memory images (and later vendor projects and reports)."""
