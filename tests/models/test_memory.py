"""Each step's own peak memory, and the process's peak kept across the steps' resets."""

from __future__ import annotations

import sys

import pytest

from smolora_recipes.models.memory import MemoryWatch, process_peak_mb

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-step peaks need Linux /proc")


def test_a_step_peak_is_its_own_and_the_process_peak_survives_resets() -> None:
    big = MemoryWatch()
    block = bytearray(300 * 2**20)  # touched: 300 MiB resident
    block[::4096] = b"x" * len(block[::4096])
    during = big.peak().rss_mb
    del block
    small = MemoryWatch()  # resets the high-water mark
    after = small.peak().rss_mb
    assert during - after > 200  # the second watch does not see the first one's block
    assert process_peak_mb() > during - 2  # the process's peak remembers it (RSS counters lag)
    assert small.peak().gpu_mb is None  # no CUDA here
