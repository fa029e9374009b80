"""The Jinja2 environment of the repository's ``templates/`` folder, for Verilog modules
rendered from templates."""

from pathlib import Path

import jinja2

__all__ = ["TEMPLATES_DIR", "verilog_template_env"]

#: The ``templates/`` folder.
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def verilog_template_env() -> jinja2.Environment:
    """Strict-undefined, block-trimming Jinja2 environment over :data:`TEMPLATES_DIR`."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)
