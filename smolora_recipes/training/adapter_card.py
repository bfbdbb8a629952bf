"""A saved adapter made portable: its config names the base model as it is known elsewhere (a
hub id, never a path of this machine), and its card says what it is and how to load it.

peft writes the base model's local folder into `adapter_config.json` and a placeholder
README.md holding the same path, so the adapter loads nowhere else. The card here holds only
what the train step's fingerprint covers (base model, LoRA and SFT settings): the recipe's
name and description belong to the run, not to a cached adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from smolora_recipes.core.atomic_write import write_atomic
from smolora_recipes.recipe.schema import Recipe

CONFIG = "adapter_config.json"
CARD = "README.md"


def make_portable(folder: Path, base_name: str, recipe: Recipe) -> None:
    """Point `folder`'s adapter config at `base_name` (its target modules sorted, so the file is
    the same on every run) and replace peft's placeholder card with ours."""
    config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_name
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    write_atomic(folder / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
    write_atomic(folder / CARD, adapter_card(base_name, recipe))


def adapter_card(base_name: str, recipe: Recipe) -> str:
    """The adapter's README.md: metadata the hub reads, the settings, and how to load it."""
    metadata = {
        "base_model": base_name,
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "tags": ["lora", "sft", "smolora-recipes"],
    }
    lora, sft = recipe.lora, recipe.sft
    length = f"{sft.max_steps} steps" if sft.max_steps is not None else f"{sft.epochs or 1} epochs"
    modules = lora.target_modules
    targets = ", ".join(modules) if isinstance(modules, list) else modules
    return (
        f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---\n\n"
        f"# LoRA adapter for {base_name}\n\n"
        f"Trained with smolora-recipes: LoRA rank {lora.r}, alpha {lora.alpha}, dropout "
        f"{lora.dropout}, on {targets}; supervised fine-tuning for {length}, learning rate "
        f"{sft.learning_rate:g}, batch {sft.batch_size} x {sft.grad_accum} accumulation, "
        f"sequences of up to {sft.max_length} tokens.\n\n"
        "## Use it\n\n"
        "```python\n"
        "from peft import AutoPeftModelForCausalLM\n"
        "from transformers import AutoTokenizer\n\n"
        'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/folder")\n'
        'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")\n'
        "```\n\n"
        f"The base model is fetched by its name, `{base_name}` (or found in the local Hugging "
        "Face cache). The run's `merged/` folder holds the same model with the adapter merged "
        "in, loadable with plain transformers.\n"
    )
