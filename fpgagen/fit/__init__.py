"""What judges a design on a board: the memory map as the board's synthesis builds it,
its placement on block RAM, the logic and multiplier models, the fit verdict, the
per-layer table and the proposals that make a design fit."""
