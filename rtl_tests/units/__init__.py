"""cocotb testbenches and support code for the unit tests of the hardware blocks
(``rtl_tests/test_block_*.py``)."""
