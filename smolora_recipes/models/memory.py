"""Peak memory of one stretch of work (a step): resident memory on CPU, allocated memory on CUDA.

Linux resets a process's resident high-water mark (`VmHWM`) when "5" is written to
`/proc/self/clear_refs`, so each step gets its own peak; where that is not possible (macOS,
a locked-down /proc) the peak is the process's so far (`ru_maxrss`). The reset also resets
what `ru_maxrss` and a parent's `wait4` report, so the process's own peak is kept here across
resets (`process_peak_mb`). The CUDA peak is
torch's `max_memory_allocated`, reset at the start; it is read only when torch is already
imported and CUDA initialised, so measuring costs a step nothing it did not load itself.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_peak_before_resets_kb = 0  # this process's resident high-water mark before the last reset


@dataclass(frozen=True)
class PeakMemory:
    """Peak resident memory and peak allocated CUDA memory (None: CUDA not used), in MiB."""

    rss_mb: float
    gpu_mb: float | None


class MemoryWatch:
    """Measures the peak memory between `__init__` (which resets the peaks) and `peak()`."""

    def __init__(self) -> None:
        self._reset = _reset_rss_peak()
        cuda = _cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()

    def peak(self) -> PeakMemory:
        """The peak resident (and CUDA) memory since this watch began."""
        return PeakMemory(rss_mb=round(_rss_peak_mb(self._reset), 1), gpu_mb=gpu_peak_mb())


def gpu_peak_mb() -> float | None:
    """torch's peak allocated CUDA memory since its last reset, in MiB; None without CUDA."""
    cuda = _cuda()
    return round(cuda.max_memory_allocated() / 2**20, 1) if cuda is not None else None


def process_peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB, across the steps' resets."""
    return max(_peak_before_resets_kb / 1024, _rss_peak_mb(high_water=True))


def _reset_rss_peak() -> bool:
    """Reset this process's resident high-water mark (remembering it first); False where the
    OS does not allow it."""
    global _peak_before_resets_kb
    _peak_before_resets_kb = max(_peak_before_resets_kb, _high_water_kb() or 0)
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _high_water_kb() is not None


def _high_water_kb() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_peak_mb(high_water: bool) -> float:
    """The kernel's resident high-water mark where `high_water` (it was reset, or the process's
    own is wanted) and /proc has it; else the process's peak (`ru_maxrss`)."""
    kilobytes = _high_water_kb() if high_water else None
    if kilobytes is not None:
        return kilobytes / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB elsewhere
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _cuda() -> object | None:
    """torch.cuda when torch is imported and CUDA is initialised, else None."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    return torch.cuda
