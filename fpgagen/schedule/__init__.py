"""The back end: instruction set, lowering to a program, input packing."""
