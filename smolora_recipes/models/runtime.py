"""Where and how models run: device, weight dtype and autocast, and loading a local model folder.

torch and transformers are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smolora_recipes.recipe.model_section import ModelSection

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Runtime:
    """The device, the dtype weights are held in, and the autocast dtype (None: no autocast)."""

    device: str
    dtype: str
    autocast: str | None

    @property
    def torch_dtype(self) -> torch.dtype:
        """The weight dtype as a torch.dtype."""
        import torch

        return getattr(torch, self.dtype)

    @property
    def frozen_dtype(self) -> str | None:
        """The dtype training holds frozen linear weights in when it differs from `dtype`: the
        autocast dtype (models/frozen_weights.py); None when they stay in `dtype`."""
        return self.autocast if self.autocast not in (None, self.dtype) else None

    def to_json(self) -> dict[str, Any]:
        """Plain data for reports."""
        return asdict(self)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul (AVX512-BF16 or AMX), where autocast pays off."""
    if platform.system() != "Linux":
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def pick_device(requested: str) -> str:
    """`auto` -> cuda, then mps, then cpu; an explicit request must be available."""
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested != "auto":
        if not available[requested]:
            from smolora_recipes.core.errors import Problem, UserInputError

            raise UserInputError(
                Problem(
                    f"device {requested!r} is not available on this machine",
                    field="model.device",
                    hint="use `device: auto` to pick the best available device",
                )
            )
        return requested
    return next(name for name in ("cuda", "mps", "cpu") if available[name])


def choose_runtime(model: ModelSection) -> Runtime:
    """Resolve `model.device` and `model.dtype` for this machine."""
    device = pick_device(model.device)
    if model.dtype != "auto":
        autocast = "bfloat16" if device == "cpu" and model.dtype == "bfloat16" else None
        return Runtime(device, model.dtype, autocast)
    if device == "cuda":
        import torch

        return Runtime(device, "bfloat16" if torch.cuda.is_bf16_supported() else "float16", None)
    if device == "cpu" and cpu_supports_bf16():
        return Runtime(device, "float32", "bfloat16")  # fp32 master weights, bf16 matmuls
    return Runtime(device, "float32", None)


# Submodules a library loads lazily on first use; imported up front with the library so a
# step's own time is its work, not a library's first-use import.
_LAZY_SUBMODULES = {
    "transformers": ("transformers.modeling_utils", "transformers.tokenization_utils_base"),
    "trl": ("trl.trainer.sft_trainer",),
}


def import_libraries(names: tuple[str, ...]) -> float:
    """Import the libraries a step needs (their import names); the seconds it took."""
    import importlib
    import time

    started = time.perf_counter()
    for name in names:
        for module in (name, *_LAZY_SUBMODULES.get(name, ())):
            importlib.import_module(module)
    return time.perf_counter() - started


def quiet_libraries() -> None:
    """Silence the progress bars and chatter of the libraries imported so far; our own log says
    what happens. Importing one only to silence it would cost a step half a second."""
    import sys
    import warnings

    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    warnings.filterwarnings(
        "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
    )


def release_free_memory() -> None:
    """Hand the memory a step freed back to the operating system.

    glibc keeps freed heap memory for reuse: after training, the default model's run held
    3.5 GB of which 2 GB was such memory, which the merge and sample steps never used.
    `malloc_trim` returns it (0.1 s; RSS at the merge 3.5 -> 1.5 GB, bench/NOTES.md). A no-op
    where the C library is not glibc.
    """
    import ctypes

    if not _glibc():
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc's soname on every architecture


@functools.cache
def _glibc() -> bool:
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def load_tokenizer(folder: Path, trust_remote_code: bool, chat_template: str | None = None) -> Any:
    """The tokenizer of a local model folder, with a pad token guaranteed.

    `chat_template` (a recipe's `data.chat_template`) replaces the folder's template; it is
    saved with the adapter and the merged model, so inference renders what training did.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(folder: Path, runtime: Runtime, trust_remote_code: bool) -> Any:
    """A causal LM from a local folder, in the runtime's dtype, on its device, in eval mode."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=runtime.torch_dtype, trust_remote_code=trust_remote_code
    )
    return model.to(runtime.device).eval()


def materialize_weights(model: Any) -> Any:
    """Copy a model's (or module's) weights out of the memory-mapped checkpoint into private
    memory.

    Loaded weights map the safetensors file; the first in-place update of a mapped tensor (as
    merging an adapter does) copies it one 4 KB page fault at a time. One bulk copy first made
    merging SmolLM2's all-linear adapter 2.0 s -> 0.4 s (bench/NOTES.md). Tied weights stay tied.
    """
    import torch

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.data = parameter.data.clone()
    return model
