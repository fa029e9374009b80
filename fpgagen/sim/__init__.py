"""Verilator builds and the cocotb testbench of the accelerator."""
