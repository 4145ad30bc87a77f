"""Fixtures for the trainables tests; tests/conftest.py has the shared local Ray."""

from __future__ import annotations

import pytest

from tunelab.trainables import Dataset, load_dataset


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_dataset("digits")
