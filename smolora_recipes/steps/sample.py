"""Step `sample`: generate for every prompt from the base and the tuned model; score answers."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

from smolora_recipes.inference.generation import GenerationSettings, format_prompt, generate_batch
from smolora_recipes.models.runtime import load_model
from smolora_recipes.recipe.artifact_sections import SamplePrompt, SamplesSection
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.steps.base_answers import base_fingerprint, remember, remembered
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import SampleItem, SampleResult

OUTPUT = "samples.jsonl"


def settings_of(samples: SamplesSection) -> GenerationSettings:
    """Generation settings from a recipe's `samples` section."""
    return GenerationSettings(
        max_new_tokens=samples.max_new_tokens,
        temperature=samples.temperature,
        top_p=samples.top_p,
        batch_size=samples.batch_size,
        seed=samples.seed,
    )


def is_correct(output: str, expect: str | None, match: str) -> bool | None:
    """Whether `output` satisfies `expect` (case-insensitive); None when nothing is expected."""
    if expect is None:
        return None
    got, want = output.strip().casefold(), expect.strip().casefold()
    return got == want if match == "exact" else want in got


def tuned_model(ctx: StepContext) -> Any:
    """The tuned model: the merged model when merge ran (from memory when it ran in this
    process, else from its folder), else base + adapter."""
    runtime, trust = ctx.runtime(), ctx.recipe.model.trust_remote_code
    if "merge" in ctx.outputs:
        merged, ctx.handoffs.merged_model = ctx.handoffs.merged_model, None
        return merged if merged is not None else load_model(ctx.outputs["merge"], runtime, trust)
    from peft import PeftModel

    base = load_model(ctx.model_folder(), runtime, trust)
    return PeftModel.from_pretrained(base, ctx.outputs["train"]).eval()


def prompt_texts(recipe: Recipe, tokenizer: Any) -> list[str]:
    """The sample prompts as the model saw its training examples: in the chat template after
    `data.system_prompt` (chat), followed by `data.completion_separator` (completion), or as
    written (text)."""
    data = recipe.data
    chat = data.format == "chat"
    ending = data.completion_separator if data.format == "completion" else ""
    return [
        format_prompt(tokenizer, item.prompt, chat, data.system_prompt, recipe.samples.tools)
        + ending
        for item in recipe.samples.prompts
    ]


def run(ctx: StepContext) -> SampleResult:
    """Write samples.jsonl with base and tuned outputs; return accuracies and throughput."""
    samples = ctx.recipe.samples
    settings = settings_of(samples)
    folder, trust = ctx.model_folder(), ctx.recipe.model.trust_remote_code
    tokenizer = ctx.tokenizer()
    texts = prompt_texts(ctx.recipe, tokenizer)
    outputs: dict[str, list[str]] = {}
    tokens = 0
    started = time.perf_counter()
    base_key = base_fingerprint(ctx.planned) if ctx.planned and samples.compare_base else None
    base = remembered(base_key, len(texts)) if base_key else None
    if base is not None:
        outputs["base"] = base
        ctx.log("base answers: reused (the base model, prompts and settings are unchanged)")
    # tuned first: the merged model may still be in memory, and is dropped before base loads
    for which in ("tuned", "base") if samples.compare_base and base is None else ("tuned",):
        model = load_model(folder, ctx.runtime(), trust) if which == "base" else tuned_model(ctx)
        outputs[which], generated = generate_batch(
            model, tokenizer, texts, settings, progress=f"sample {which}"
        )
        tokens += generated
        del model
        gc.collect()
    seconds = time.perf_counter() - started
    if base_key and base is None:
        remember(base_key, outputs["base"])
    items = [
        _scored_item(item, outputs, index, samples.match)
        for index, item in enumerate(samples.prompts)
    ]
    with ctx.output.open("w", encoding="utf-8") as handle:
        for entry in items:
            handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
    scored = [entry for entry in items if entry.expect is not None]
    result = SampleResult(
        match=samples.match,
        items=items,
        scored=len(scored),
        base_accuracy=_accuracy([entry.base_ok for entry in scored]),
        tuned_accuracy=_accuracy([entry.tuned_ok for entry in scored]),
        tokens_per_second=round(tokens / seconds, 2) if seconds > 0 else None,
    )
    if scored:
        ctx.log(
            f"accuracy: base {_percent(result.base_accuracy)} -> "
            f"tuned {_percent(result.tuned_accuracy)} on {len(scored)} prompts"
        )
    return result


def _scored_item(
    item: SamplePrompt, outputs: dict[str, list[str]], index: int, match: str
) -> SampleItem:
    """One prompt with its base and tuned answers, each checked against the expectation."""
    base = outputs["base"][index] if "base" in outputs else None
    tuned = outputs["tuned"][index]
    return SampleItem(
        prompt=item.prompt,
        expect=item.expect,
        base=base,
        tuned=tuned,
        base_ok=is_correct(base, item.expect, match) if base is not None else None,
        tuned_ok=is_correct(tuned, item.expect, match),
    )


def _accuracy(marks: list[bool | None]) -> float | None:
    values = [mark for mark in marks if mark is not None]
    return sum(values) / len(values) if values else None


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
