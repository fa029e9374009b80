"""Shared fixtures: the real models and photos of ../shared (skipped when absent)."""

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = SHARED / "models"
IMAGES = SHARED / "images"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: real models and photos live in ../shared")
    return path


@pytest.fixture(scope="session")
def reference():
    """``../shared/images/reference.npz`` as a dict of arrays."""
    with np.load(_need(IMAGES / "reference.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def v1_1_weights():
    return _need(MODELS / "squeezenet_v1_1.npz")


@pytest.fixture(scope="session")
def v1_0_weights():
    return _need(MODELS / "squeezenet_v1_0.npz")


@pytest.fixture(scope="session")
def shared_models():
    return _need(MODELS)


@pytest.fixture(scope="session")
def shared_images():
    return _need(IMAGES)
