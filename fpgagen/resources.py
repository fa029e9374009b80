"""Where the files fpgagen ships beside its code live: the Jinja2 templates and the bundled
board files.

In a source checkout (or an editable install) they are the repository's top-level
``templates/`` and ``boards/`` folders; in an installed wheel they are the package data
``fpgagen/templates`` and ``fpgagen/boards`` (``pyproject.toml`` maps the top-level folders
there).
"""

from pathlib import Path

import jinja2

__all__ = ["TEMPLATES_DIR", "BOARDS_DIR", "template_env"]

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    """The packaged folder ``name`` when installed, else the repository's."""
    packaged = _PACKAGE / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


#: Folder of the Jinja2 templates (Verilog memory wrappers, vendor projects, reports).
TEMPLATES_DIR = _find("templates")
#: Folder of the bundled board files.
BOARDS_DIR = _find("boards")


def template_env(*, autoescape: bool = False) -> jinja2.Environment:
    """The Jinja2 environment of every file fpgagen renders: strict undefined, trimmed
    blocks, trailing newline kept (``autoescape`` for HTML)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              autoescape=autoescape)
