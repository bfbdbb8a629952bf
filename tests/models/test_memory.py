"""Each step's own peak memory, and the process's peak kept across the steps' resets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-step peaks need Linux /proc")

# in a fresh process: the suite's own process holds threads and memory of earlier tests
PROBE = """
import json
from smolora_recipes.models.memory import MemoryWatch, process_peak_mb
big = MemoryWatch()
block = bytearray(300 * 2**20)
block[::4096] = b"x" * len(block[::4096])  # every page touched: 300 MiB resident
during = big.peak()
del block
small = MemoryWatch()  # resets the high-water mark
after = small.peak()
print(json.dumps([during.rss_mb, after.rss_mb, process_peak_mb(), after.gpu_mb]))
"""


def test_a_step_peak_is_its_own_and_the_process_peak_survives_resets() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    during, after, process_peak, gpu = json.loads(done.stdout.splitlines()[-1])
    assert during - after > 200  # the second watch does not see the first one's block
    assert process_peak > during - 2  # the process's peak remembers it (RSS counters lag)
    assert gpu is None  # no CUDA here
