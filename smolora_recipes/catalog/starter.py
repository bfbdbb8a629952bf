"""`smolora init`: a commented starter recipe and a tiny data file that it trains on."""

from __future__ import annotations

import json
from pathlib import Path

from smolora_recipes.core.errors import Location, Problem, UserInputError

STARTER_RECIPE = """\
# Run me with:  smolora run {recipe_name}
# Check me with: smolora validate {recipe_name}   (every field: smolora schema --format markdown)
recipe_version: 1
name: {name}
description: Teach the model to answer in a fixed, friendly format.

model:
  base: smollm2-135m-instruct   # built-in; or a local HF folder, a .gguf file, a hub id

data:
  sources:
    - type: jsonl
      path: {data_path}          # relative to this file
  format: chat                   # records hold `messages`: [{{role, content}}, ...]
  eval_split: 0.1                # held out to measure eval loss before/after

lora:
  r: 16
  alpha: 32
  target_modules: all-linear

sft:
  epochs: 10                     # ten passes over nine examples: about a minute on a laptop CPU
  learning_rate: 2e-3
  batch_size: 4
  max_length: 256

samples:
  max_new_tokens: 12
  prompts:                       # new questions: scored on whether the answer uses the format
    - prompt: What is the capital of Italy?
      expect: "Answer:"
    - prompt: How many wheels does a bicycle have?
      expect: "Answer:"
    - prompt: What colour is the sky on a clear day?
      expect: "Answer:"
    - prompt: Which animal says moo?
      expect: "Answer:"
"""

STARTER_EXAMPLES = [
    ("What is the capital of France?", "Paris"),
    ("How many legs does a spider have?", "Eight"),
    ("What gas do plants absorb?", "Carbon dioxide"),
    ("What is the largest planet?", "Jupiter"),
    ("What is water made of?", "Hydrogen and oxygen"),
    ("Who wrote Hamlet?", "William Shakespeare"),
    ("What is the boiling point of water at sea level?", "100 degrees Celsius"),
    ("Which ocean is the largest?", "The Pacific Ocean"),
    ("What colour is a ripe banana?", "Yellow"),
    ("How many days are in a week?", "Seven"),
]


def write_starter(recipe_path: Path) -> list[Path]:
    """Write a starter recipe and its data file; refuse to overwrite anything."""
    data_rel = Path("data") / f"{recipe_path.stem}.jsonl"
    data_path = recipe_path.parent / data_rel
    existing = [p for p in (recipe_path, data_path) if p.exists()]
    if existing:
        raise UserInputError(
            [
                Problem(
                    "already exists; init never overwrites",
                    Location(str(p)),
                    hint="pick another path: smolora init other.yaml",
                )
                for p in existing
            ]
        )
    name = "".join(c if c.isalnum() or c in "_.-" else "-" for c in recipe_path.stem) or "starter"
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": f"Answer: {answer}. Happy to help!"},
                ]
            }
        )
        for question, answer in STARTER_EXAMPLES
    ]
    data_path.parent.mkdir(parents=True, exist_ok=True)
    recipe_path.parent.mkdir(parents=True, exist_ok=True)
    data_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe_path.write_text(
        STARTER_RECIPE.format(
            recipe_name=recipe_path.name, name=name, data_path=data_rel.as_posix()
        ),
        encoding="utf-8",
    )
    return [recipe_path, data_path]
