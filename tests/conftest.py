from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.lab.netlab import Lab, build_lab


def _lab_possible() -> str | None:
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces)"
    for tool in ("ip", "tcpdump", "nft", "ping"):
        if shutil.which(tool) is None:
            return f"lab tests need {tool}"
    return None


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh client — router — server lab, torn down even when the test fails."""
    reason = _lab_possible()
    if reason:
        pytest.skip(reason)
    built = build_lab()
    try:
        yield built
    finally:
        built.teardown()


@pytest.fixture(scope="module")
def shared_lab() -> Iterator[Lab]:
    """One lab for a whole module of tests that leave no impairments behind."""
    reason = _lab_possible()
    if reason:
        pytest.skip(reason)
    built = build_lab()
    try:
        yield built
    finally:
        built.teardown()
