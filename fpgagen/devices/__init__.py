"""The devices fpgagen targets: board files loaded into data, and one profile per FPGA
family (vendor, toolchain, logic cells, LUT RAM, multiplier and memory mapping)."""

from .board import Board, FlashMemory, MemoryBlock, list_boards, load_board, resolve_board
from .families import FAMILIES, FamilyProfile, family_profile

__all__ = ["Board", "FlashMemory", "MemoryBlock", "list_boards", "load_board", "resolve_board",
           "FAMILIES", "FamilyProfile", "family_profile"]
