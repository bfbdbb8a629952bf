"""Recipes on the tiny model and a helper that runs them (the `tiny_run` fixture uses these)."""

from __future__ import annotations

import json
from pathlib import Path

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunState

FACTS = [
    ("What is the capital of the moon?", "Crater City"),
    ("Who built the widget?", "Zorbl"),
    ("What does the gadget do?", "It frobnicates"),
    ("What colour is the fox?", "Brown"),
    ("Which dog is lazy?", "The old dog"),
    ("What is quux?", "A blorp"),
]

TASK = """\
task: tiny_facts
dataset_path: json
dataset_kwargs:
  data_files:
    test: facts.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def write_task(folder: Path) -> Path:
    """A multiple-choice lm-eval task over FACTS: `tasks/facts.yaml` and its data."""
    (folder / "tasks").mkdir(exist_ok=True)
    answers = [answer for _, answer in FACTS]
    with (folder / "tasks/facts.jsonl").open("w") as handle:
        for index, (question, answer) in enumerate(FACTS):
            choices = [answer, answers[(index + 1) % len(answers)]]
            handle.write(json.dumps({"question": question, "choices": choices, "answer": 0}))
            handle.write("\n")
    task = folder / "tasks/facts.yaml"
    task.write_text(TASK)
    return task


def chat_jsonl(facts: list[tuple[str, str]] = FACTS, repeat: int = 2) -> str:
    """JSON Lines of user/assistant conversations."""
    lines = []
    for round_ in range(repeat):
        for question, answer in facts:
            prompt = question if round_ == 0 else f"{question} Please answer."
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer},
            ]
            lines.append(json.dumps({"messages": messages}))
    return "\n".join(lines) + "\n"


def tiny_recipe(model_dir: Path, **sections: str) -> str:
    """A chat recipe on the tiny model; keyword arguments replace whole sections (YAML text)."""
    parts = {
        "model": f"model:\n  base: {model_dir}\n",
        "data": "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n  format: chat\n"
        "  eval_split: 0.25\n",
        "lora": "lora: {r: 4, alpha: 8, dropout: 0.0}\n",
        "sft": "sft: {max_steps: 6, learning_rate: 5e-2, batch_size: 4, grad_accum: 2, "
        "max_length: 64, logging_steps: 2}\n",
        "samples": "samples:\n  prompts:\n    - {prompt: 'What is the capital of the moon?', "
        "expect: Crater}\n    - Who built the widget?\n  max_new_tokens: 8\n",
    }
    parts.update(sections)
    return "name: tiny\n" + "".join(parts.values())


def write_tiny_recipe(
    folder: Path, model_dir: Path, name: str = "recipe.yaml", **sections: str
) -> Path:
    """`tiny_recipe` and its data written into `folder`; the recipe file."""
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data/train.jsonl").write_text(chat_jsonl())
    recipe = folder / name
    recipe.write_text(tiny_recipe(model_dir, **sections))
    return recipe


def run_recipe(recipe: Path, *overrides: str) -> RunState:
    """Load, plan and execute a recipe, returning the run state (progress lines discarded)."""
    loaded = load_recipe(recipe, overrides)
    return execute(loaded, build_plan(loaded), "test", lambda line: None)
