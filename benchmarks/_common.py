"""Helpers shared by the benchmark scripts."""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
