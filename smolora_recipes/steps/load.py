"""Step `load`: resolve `model.base` to a local model folder and choose device and dtype.

Built-in and `.gguf` models are dequantized once by transformers and cached as safetensors
under SMOLORA_HOME/models/, so later runs load in about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import Problem, UserInputError, problem_at
from smolora_recipes.core.paths import converted_models_dir
from smolora_recipes.models.model_files import check_weight_files
from smolora_recipes.models.runtime import choose_runtime
from smolora_recipes.recipe.builtin_models import (
    BUILTIN_MODELS,
    ModelRef,
    builtin_model_file,
    classify_model,
)
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import LoadResult
from smolora_recipes.store.hashing import file_sha256

OUTPUT = "model.json"
_COMPLETE = "smolora-converted.json"


def run(ctx: StepContext) -> LoadResult:
    """Resolve the model folder, pick the runtime, write model.json."""
    model = ctx.recipe.model
    ref = classify_model(model.base)
    started = time.perf_counter()
    folder, converted = resolve_model_folder(ref, model.revision, ctx.log)
    check_weight_files(folder)
    try:
        ctx.tokenizer(folder)  # fails here if the folder has none; later steps of this run reuse it
    except (OSError, ValueError) as error:
        raise UserInputError(
            problem_at(
                folder,
                f"no usable tokenizer in this model folder ({type(error).__name__}: "
                f"{str(error).splitlines()[0].rstrip(': ')})",
                field="model.base",
                hint="copy the tokenizer files (tokenizer.json, tokenizer_config.json) from the "
                "model's repository into the folder",
            )
        ) from None
    runtime = choose_runtime(model)
    result = LoadResult(
        base=model.base,
        kind=ref.kind,
        folder=str(folder),
        converted_now=converted,
        runtime=runtime,
        trust_remote_code=model.trust_remote_code,
    )
    info = result.to_json()
    del info["resolve_seconds"]  # model.json says what was resolved, not how long it took
    ctx.output.write_text(json.dumps(info, indent=2))
    ctx.log(
        f"model {model.base} ({ref.kind}) at {folder}; device {runtime.device}, "
        f"weights {runtime.dtype}, autocast {runtime.autocast or 'off'}"
    )
    result.resolve_seconds = round(time.perf_counter() - started, 3)
    return result


def resolve_model_folder(
    ref: ModelRef, revision: str | None, log: Any = print
) -> tuple[Path, bool]:
    """A local folder with config, weights and tokenizer for `ref`; True if converted just now."""
    if ref.kind == "builtin":
        return _converted(builtin_model_file(BUILTIN_MODELS[ref.name]), ref.name, log)
    if ref.kind == "gguf_file":
        assert ref.path is not None
        return _converted(ref.path, ref.path.stem, log)
    if ref.kind == "local_dir":
        assert ref.path is not None
        if not (ref.path / "config.json").is_file():
            raise UserInputError(
                Problem(
                    f"{ref.path} is not a Hugging Face model folder (no config.json)",
                    field="model.base",
                    hint="point at a folder written by save_pretrained, or at a .gguf file",
                )
            )
        return ref.path, False
    return _hub_snapshot(ref.name, revision), False


def _hub_snapshot(repo_id: str, revision: str | None) -> Path:
    """The locally cached snapshot of a hub model; download only when online is allowed."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    hint = (
        f"download it on a connected machine (huggingface-cli download {repo_id}) and copy the "
        "folder here, then set `model.base: ./path/to/folder`; or use a .gguf file"
    )
    if offline:
        raise UserInputError(
            Problem(
                f"model {repo_id!r} is not in the local Hugging Face cache, and HF_HUB_OFFLINE "
                "forbids downloading it",
                field="model.base",
                hint=hint,
            )
        )
    try:
        return Path(snapshot_download(repo_id, revision=revision))
    except Exception as error:  # network or hub errors: explain instead of a traceback
        raise UserInputError(
            Problem(
                f"could not download model {repo_id!r}: {type(error).__name__}: {error}",
                field="model.base",
                hint=hint,
            )
        ) from None


def _converted(gguf: Path, label: str, log: Any) -> tuple[Path, bool]:
    """Dequantize a GGUF file once into a cached safetensors folder keyed by its content hash."""
    digest = file_sha256(gguf)
    target = converted_models_dir() / f"{label}-{digest[:16]}"
    if (target / _COMPLETE).is_file():
        return target, False
    log(f"converting {gguf.name} to safetensors (once; cached in {target})")
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _convert_gguf(gguf, staging)
        (staging / _COMPLETE).write_text(json.dumps({"source": str(gguf), "sha256": digest}))
        try:
            staging.rename(target)
        except OSError:
            if not (target / _COMPLETE).is_file():  # not another process finishing first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, True


def _convert_gguf(gguf: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as error:
        raise UserInputError(
            Problem(
                f"cannot read {gguf} as a GGUF model: {error}",
                field="model.base",
                hint="check the file is a complete GGUF model (llama.cpp format)",
            )
        ) from None
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the weights are dequantized; drop the GGUF flag save refuses
        quantizer.remove_quantization_config(model)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
