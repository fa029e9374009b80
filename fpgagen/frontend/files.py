"""The one check every input file of the front ends gets first."""

from pathlib import Path

from ..errors import FpgagenError

__all__ = ["require_file"]


def require_file(path: Path, *, name: str, expected: str, missing: str | None = None) -> None:
    """Refuse, in one line, a ``path`` that is a folder (``"{name} '...' is a directory, not
    {expected}"``) or does not exist (``"{missing or name} not found: '...'"``)."""
    if path.is_dir():
        raise FpgagenError(f"{name} {str(path)!r} is a directory, not {expected}")
    if not path.is_file():
        raise FpgagenError(f"{missing or name} not found: {str(path)!r}")
