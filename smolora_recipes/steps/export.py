"""Step `export`: GGUF files (and an Ollama Modelfile) from the merged model, each proven in
llama.cpp.

Each GGUF answers the sample prompts greedily in llama.cpp, chat prompts through the chat
template it carries, and its answers are compared with the merged model's (the sample step's
tuned answers): one that agrees with the merged model no better than the base model does has
lost the fine-tune (or its template) on the way, and fails the step. A Modelfile's TEMPLATE
must render every sample prompt exactly as the run's chat template does.
"""

from __future__ import annotations

import json
import time

from smolora_recipes.core.errors import SmoloraError
from smolora_recipes.deploy.gguf_files import gguf_name, write_gguf
from smolora_recipes.deploy.llama_answers import llama_answers
from smolora_recipes.deploy.modelfile import (
    TemplateShapeError,
    chat_shape,
    modelfile_text,
    plain_shape,
    stop_strings,
)
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import ExportResult, GgufCheck, SampleItem, SampleResult
from smolora_recipes.steps.sample import is_correct, prompt_texts

OUTPUT = "export"
ANSWERS = "llama-answers.jsonl"
CONTEXT_MARGIN = 16  # tokens beyond the longest prompt and its answer


class ExportVerificationError(SmoloraError):
    """A GGUF does not answer like the merged model it was made from."""


def run(ctx: StepContext) -> ExportResult:
    """Write and check each GGUF type, then the Modelfile; return what was written and how each
    GGUF's answers compare."""
    recipe, sample = ctx.recipe, ctx.results.sample
    assert sample is not None, "export needs the sample step (the plan requires prompts)"
    data, settings = recipe.data, recipe.samples
    tokenizer = ctx.tokenizer()
    texts = prompt_texts(recipe, tokenizer)
    longest = max(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)
    suffix = data.completion_separator if data.format == "completion" else ""
    checks = []
    for kind in recipe.export.gguf:
        name = gguf_name(recipe.name, kind)
        started = time.perf_counter()
        write_gguf(ctx.outputs["merge"], kind, ctx.output / name, recipe.name, ctx.scratch)
        seconds = round(time.perf_counter() - started, 2)
        answers = llama_answers(
            ctx.output / name,
            [item.prompt for item in settings.prompts],
            data.format == "chat",
            data.system_prompt,
            suffix,
            settings.max_new_tokens,
            longest + settings.max_new_tokens + CONTEXT_MARGIN,
            settings.tools,
        )
        check = compared(kind, name, (ctx.output / name).stat().st_size, seconds, answers, sample)
        _write_answers(ctx, kind, answers, sample)
        ctx.log(describe(check))
        for answer, item in _differing(answers, sample)[:3]:
            ctx.log(f"  {item.prompt!r}: llama.cpp {answer!r}, merged {item.tuned!r}")
        check_faithful(check)
        checks.append(check)
    result = ExportResult(ggufs=checks)
    if recipe.export.ollama:
        shape = chat_shape(tokenizer) if data.format == "chat" else plain_shape(suffix)
        for item, text in zip(settings.prompts, texts, strict=True):
            if shape.render(item.prompt, data.system_prompt) != text:
                raise TemplateShapeError(
                    f"the Ollama TEMPLATE read off the chat template renders the prompt "
                    f"{item.prompt!r} differently from the template itself, so no Modelfile "
                    "was written; use the GGUF, which carries the chat template, in llama.cpp"
                )
        text = modelfile_text(
            checks[0].file, shape, stop_strings(shape, tokenizer), data.system_prompt
        )
        (ctx.output / "Modelfile").write_text(text, encoding="utf-8")
        result.modelfile, result.modelfile_prompts = "Modelfile", len(texts)
        ctx.log(f"Modelfile: its TEMPLATE renders {len(texts)}/{len(texts)} prompts as the run did")
    return result


def compared(
    kind: str, name: str, size: int, seconds: float, answers: list[str], sample: SampleResult
) -> GgufCheck:
    """How a GGUF's answers compare with the merged model's and meet the expectations."""
    items = sample.items
    with_base = all(item.base is not None for item in items)
    scored = [
        is_correct(answer, item.expect, sample.match)
        for answer, item in zip(answers, items, strict=True)
        if item.expect is not None
    ]
    return GgufCheck(
        type=kind,
        file=name,
        bytes=size,
        seconds=seconds,
        answered=len(answers),
        identical=sum(answer == item.tuned for answer, item in zip(answers, items, strict=True)),
        base_identical=sum(item.base == item.tuned for item in items) if with_base else None,
        expected=sum(bool(mark) for mark in scored) if scored else None,
        scored=len(scored),
    )


def check_faithful(check: GgufCheck) -> None:
    """Raise ExportVerificationError when the GGUF's answers agree with the merged model's no
    better than the base model's do (or, without base answers, not once)."""
    if check.identical == check.answered:
        return
    floor = check.base_identical if check.base_identical is not None else 0
    if check.identical <= floor:
        versus = (
            f"no better than the base model ({floor}/{check.answered})"
            if check.base_identical is not None
            else "none"
        )
        raise ExportVerificationError(
            f"{check.file}: {check.identical}/{check.answered} of its llama.cpp answers are "
            f"identical to the merged model's, {versus}; the GGUF lost the fine-tune or its "
            "chat template on the way (run.log shows answers that differ)"
        )


def describe(check: GgufCheck) -> str:
    """`q8_0: 24/24 expected, 24/24 identical to merged (base 3/24); 145 MB in 11.5 s`."""
    parts = [f"{check.type}:"]
    if check.expected is not None:
        parts.append(f"{check.expected}/{check.scored} expected,")
    parts.append(f"{check.identical}/{check.answered} identical to merged")
    if check.base_identical is not None:
        parts.append(f"(base {check.base_identical}/{check.answered})")
    return " ".join(parts) + f"; {check.bytes / 1e6:.0f} MB in {check.seconds:.1f} s"


def _differing(answers: list[str], sample: SampleResult) -> list[tuple[str, SampleItem]]:
    return [
        (answer, item)
        for answer, item in zip(answers, sample.items, strict=True)
        if answer != item.tuned
    ]


def _write_answers(ctx: StepContext, kind: str, answers: list[str], sample: SampleResult) -> None:
    """Append each llama.cpp answer beside the merged model's to export/llama-answers.jsonl."""
    with (ctx.output / ANSWERS).open("a", encoding="utf-8") as handle:
        for answer, item in zip(answers, sample.items, strict=True):
            row = {"type": kind, "prompt": item.prompt, "llama_cpp": answer, "merged": item.tuned}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
