"""Batched generation against one prompt at a time, on the same model and prompts.

Generates greedily for N chat prompts (default 32) with `generation.generate_batch`, first
one prompt per call, then in length-sorted left-padded batches, alternating the two for
--repeats rounds; prints generated tokens/s of each and their ratio (median of the rounds).

    python bench/batched_sampling.py [--prompts 32] [--batch-size 16] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPICS = (
    "the global statement",
    "a generator expression",
    "default argument values",
    "the difference between is and ==",
    "list comprehensions",
    "the with statement",
    "decorators",
    "exceptions and finally",
)
FORMS = ("What is {}?", "Explain {} in one sentence.", "Give an example of {}.", "Why use {}?")


def prompts(count: int) -> list[str]:
    """`count` different questions of varied length about Python."""
    made = [form.format(topic) for form in FORMS for topic in TOPICS]
    return (made * (count // len(made) + 1))[:count]


def tokens_per_second(
    model: object, tokenizer: object, texts: list[str], batch: int, new: int
) -> float:
    """Generated tokens/s for `texts` in batches of `batch`."""
    from smolora_recipes.inference.generation import GenerationSettings, generate_batch

    settings = GenerationSettings(max_new_tokens=new, batch_size=batch)
    started = time.perf_counter()
    _, generated = generate_batch(model, tokenizer, texts, settings)
    return generated / (time.perf_counter() - started)


def main() -> None:
    """Measure and print one-at-a-time vs batched generation throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="alias or model folder")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from smolora_recipes.inference.generation import format_prompt
    from smolora_recipes.models.runtime import (
        choose_runtime,
        load_model,
        load_tokenizer,
        quiet_libraries,
    )
    from smolora_recipes.recipe.builtin_models import classify_model
    from smolora_recipes.recipe.model_section import ModelSection
    from smolora_recipes.steps.load import resolve_model_folder

    folder, _ = resolve_model_folder(classify_model(args.model), None, print)
    tokenizer = load_tokenizer(folder, False)
    quiet_libraries()  # transformers is imported now: no weight-loading progress bar
    model = load_model(folder, choose_runtime(ModelSection()), False)
    texts = [format_prompt(tokenizer, text, chat=True) for text in prompts(args.prompts)]
    tokens_per_second(model, tokenizer, texts[:2], 2, 4)  # warm-up: first-call kernel set-up
    rounds: dict[str, list[float]] = {"one at a time": [], f"batches of {args.batch_size}": []}
    for _ in range(args.repeats):
        for name, batch in zip(rounds, (1, args.batch_size), strict=True):
            rounds[name].append(
                tokens_per_second(model, tokenizer, texts, batch, args.max_new_tokens)
            )
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    print(f"{args.prompts} prompts x {args.max_new_tokens} new tokens, greedy, {folder.name}")
    for name, value in medians.items():
        print(f"  {name:<16} {value:8.1f} tokens/s")
    one, batched = medians.values()
    print(f"  batched / one at a time: {batched / one:.2f}x")


if __name__ == "__main__":
    main()
