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
from smolora_recipes.core.permissions import follow_umask
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
from smolora_recipes.store.hashing import file_sha256, remember_sha256

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
    from huggingface_hub import is_offline_mode, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    offline = is_offline_mode()  # HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), as the hub reads it
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
    """Dequantize a GGUF file once into a cached safetensors folder keyed by its content hash;
    a cached folder whose files changed since (see `converted_problem`) is converted again."""
    digest = file_sha256(gguf)
    target = converted_models_dir() / f"{label}-{digest[:16]}"
    if (target / _COMPLETE).is_file():
        problem = converted_problem(target)
        if problem is None:
            return target, False
        log(f"the converted model in {target} is damaged ({problem}); converting it again")
        shutil.rmtree(target, ignore_errors=True)
    log(f"converting {gguf.name} to safetensors (once; cached in {target})")
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _convert_gguf(gguf, staging)
        follow_umask(staging)  # save_pretrained leaves the weights private (0600)
        files = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        record = {"source": str(gguf), "sha256": digest, "files": files}
        (staging / _COMPLETE).write_text(json.dumps(record, indent=2))
        try:
            staging.rename(target)
        except OSError:
            if not (target / _COMPLETE).is_file():  # not another process finishing first
                raise
        for name, sha in files.items():  # same bytes, new path: known without reading again
            remember_sha256(target / name, sha)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, True


def converted_problem(folder: Path) -> str | None:
    """What differs in a converted model folder from when it was converted (a file missing or
    changed, by sha256: free while files are unchanged), or None when it is intact."""
    try:
        files = json.loads((folder / _COMPLETE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{_COMPLETE} lists no file hashes"
    for name, sha in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if file_sha256(path) != sha:
            return f"{name} has changed since the conversion"
    return None


def reusable(result: LoadResult, warn: Any) -> bool:
    """Whether a cached `load` result still describes a usable model: a converted model's
    folder must be intact (else the step runs again, converting it again)."""
    if result.kind not in ("builtin", "gguf_file"):
        return True
    problem = converted_problem(Path(result.folder))
    if problem is not None:
        warn(f"the converted model in {result.folder} is damaged ({problem}); running load again")
    return problem is None


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
