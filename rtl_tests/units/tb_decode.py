"""cocotb testbench for the instruction decode round trip: drives packed instruction words
into a component with one output port per field (``units.support.InstructionFields``)
and records every field. Purely combinational: each word settles before it is read.

Stimulus (``FPGAGEN_TB_IN``): ``words`` (hexadecimal strings), ``fields`` (port names) and
``signed_fields`` (those to read as two's complement). Results (``FPGAGEN_TB_OUT``):
``f_<field>`` int64 arrays, one value per word."""

import os

import cocotb
import numpy as np
from cocotb.triggers import Timer

__all__ = ["decode_words"]


@cocotb.test()
async def decode_words(dut):
    """Drive every word and read back every field."""
    data = np.load(os.environ["FPGAGEN_TB_IN"], allow_pickle=False)
    words = [int(w, 16) for w in data["words"].tolist()]
    fields = [str(n) for n in data["fields"]]
    signed = {str(n) for n in data["signed_fields"]}
    handles = [(n, getattr(dut, n), n in signed, len(getattr(dut, n)) > 1) for n in fields]
    out = {n: np.zeros(len(words), dtype=np.int64) for n in fields}
    for k, word in enumerate(words):
        dut.word.value = word
        await Timer(1, unit="ns")
        for n, h, s, wide in handles:
            v = h.value
            out[n][k] = v.to_signed() if s else v.to_unsigned() if wide else int(v)
    np.savez(os.environ["FPGAGEN_TB_OUT"], **out)
