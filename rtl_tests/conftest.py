"""RTL tests: cocotb 2.x testbenches under Verilator, driven by pytest. Each hardware
configuration builds in its own folder under ``rtl_tests/_build/`` named after the test."""

import re
from pathlib import Path

import pytest

from fpgagen.sim.verilator import ensure_verilator_on_path

BUILD_ROOT = Path(__file__).resolve().parent / "_build"


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.verilator)


@pytest.fixture
def build_dir(request):
    """A fresh folder for this test's build, named after the test id."""
    ensure_verilator_on_path()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path = BUILD_ROOT / name
    path.mkdir(parents=True, exist_ok=True)
    return path
