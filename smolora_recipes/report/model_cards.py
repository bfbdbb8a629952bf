"""The model cards of a finished run: `merged/README.md` and `adapter/README.md`, written when
the report is, since they describe the run (its name, description, data, results), not only
the cached step output.

Each card opens with the YAML metadata the Hugging Face hub reads (`base_model` is the base's
hub id, never a path of this machine), then says what the model learned, from which data
(with sha256), with which settings, how well (eval loss, sample accuracy, exported GGUFs), how
to use and publish it, and the resolved recipe. In the run folder, `merged/` and `adapter/`
become folders of their own whose other files link into the step cache, so a run's card never
changes a cached entry another run shares.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from smolora_recipes.core.atomic_write import write_atomic
from smolora_recipes.recipe.builtin_models import published_name

CARD = "README.md"


def write_model_cards(
    run_dir: Path, report: dict[str, Any], inputs: dict[str, dict[str, str]]
) -> list[Path]:
    """Write the cards of the run's `merged/` and `adapter/` folders (those it has); their paths."""
    recipe_text = (run_dir / "recipe.resolved.yaml").read_text(encoding="utf-8")
    written = []
    for kind in ("merged", "adapter"):
        folder = run_dir / kind
        if folder.is_dir():
            own_folder(folder)
            card = model_card(kind, report, inputs, recipe_text)
            written.append(write_atomic(folder / CARD, card))
    return written


def own_folder(folder: Path) -> None:
    """Make a run's link to a cached folder a folder of its own whose entries link into the
    cache (a copied folder is left as it is)."""
    if not folder.is_symlink():
        return
    target = folder.resolve()
    staged = folder.with_name(f".{folder.name}.linked")
    staged.mkdir()
    for entry in target.iterdir():
        (staged / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    folder.unlink()
    os.replace(staged, folder)


def model_card(
    kind: str, report: dict[str, Any], inputs: dict[str, dict[str, str]], recipe_text: str
) -> str:
    """The README.md of the run's `merged` or `adapter` folder."""
    recipe, model = report["recipe"], report["model"]
    base = published_name(model["kind"], model["base"])
    metadata = {
        "base_model": base,
        "library_name": "transformers" if kind == "merged" else "peft",
        "pipeline_tag": "text-generation",
        "tags": ["smolora-recipes", "lora", "sft", *(["merged"] if kind == "merged" else [])],
    }
    what = "merged into the base weights" if kind == "merged" else "as a LoRA adapter"
    settings = ["| field | value |", "|---|---|"] + [
        f"| `{key}` | {_cell(value)} |" for key, value in recipe["summary"].items()
    ]
    blocks = [
        f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---",
        f"# {recipe['name']}",
        *([recipe["description"]] if recipe.get("description") else []),
        f"Fine-tuned from [`{base}`](https://huggingface.co/{base}) with smolora-recipes, {what}.",
        "## Results",
        "\n".join(_result_lines(report)),
        "## Data",
        "\n".join(_data_lines(report, inputs)),
        "## Settings",
        "\n".join(settings),
        "## Use it",
        _usage(kind, recipe["name"], report.get("export")),
        "## Recipe",
        "The resolved recipe (defaults applied) that made it; `output`, which says where runs "
        "go on the machine that trained it, left out:",
        f"```yaml\n{portable_recipe(recipe_text)}```",
    ]
    return "\n\n".join(blocks) + "\n"


def portable_recipe(recipe_text: str) -> str:
    """The resolved recipe without its `output` section (folders of this machine)."""
    recipe = yaml.safe_load(recipe_text)
    recipe.pop("output", None)
    return yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)


def _result_lines(report: dict[str, Any]) -> list[str]:
    train, samples = report.get("train") or {}, report.get("samples") or {}
    lines = []
    if train.get("eval_loss_before") is not None and train.get("eval_loss_after") is not None:
        lines.append(
            f"- eval loss {train['eval_loss_before']:.4f} -> {train['eval_loss_after']:.4f} "
            f"({train.get('steps')} optimizer steps)"
        )
    if samples.get("scored"):
        base, tuned = samples.get("base_accuracy"), samples.get("tuned_accuracy")
        before = "" if base is None else f"base {base:.0%} -> "
        lines.append(
            f"- sample prompts answered as expected: {before}tuned {tuned:.0%} "
            f"of {samples['scored']} ({samples['match']})"
        )
    for score in (report.get("eval") or {}).get("scores", []):
        if score.get("tuned") is not None:
            before = "" if score.get("base") is None else f"base {score['base']:.3f} -> "
            lines.append(
                f"- {score['task']} ({score['metric']}, lm-evaluation-harness): "
                f"{before}tuned {score['tuned']:.3f}"
            )
    for gguf in (report.get("export") or {}).get("ggufs", []):
        lines.append(
            f"- `{gguf['file']}` in llama.cpp: {gguf['identical']}/{gguf['answered']} answers "
            "identical to this model's"
            + (
                ""
                if gguf["expected"] is None
                else f", {gguf['expected']}/{gguf['scored']} expected"
            )
        )
    return lines or ["- no evaluation was configured"]


def _data_lines(report: dict[str, Any], inputs: dict[str, dict[str, str]]) -> list[str]:
    """A row per data source: where it came from, the rows used, the sha256 of its file(s)."""
    rows = ["| source | rows used | sha256 |", "|---|---|---|"]
    for index, source in enumerate((report.get("data") or {}).get("sources", [])):
        identity = inputs.get(f"data.sources.{index}.path") or {}
        label = f"{source.get('type')} `{source.get('name')}`"
        rows.append(f"| {label} | {source.get('used')} | {_cell(identity.get('sha256'))} |")
    return rows


def _usage(kind: str, name: str, export: dict[str, Any] | None) -> str:
    loader = (
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        'model = AutoModelForCausalLM.from_pretrained("path/to/merged")\n'
        if kind == "merged"
        else "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n\n"
        'model = AutoPeftModelForCausalLM.from_pretrained("path/to/adapter")  # fetches the base\n'
    )
    folder = "merged" if kind == "merged" else "adapter"
    text = (
        f"```python\n{loader}"
        f'tokenizer = AutoTokenizer.from_pretrained("path/to/{folder}")\n```\n\n'
        f"Publish it: `hf upload YOUR-NAME/{name}{'' if kind == 'merged' else '-lora'} "
        f"runs/{name}/latest/{folder}`"
    )
    ggufs = (export or {}).get("ggufs") or []
    if ggufs:
        first = ggufs[0]["file"]
        text += (
            f"\n\nWith llama.cpp: `llama-cli -m export/{first}`"
            + (
                "; with Ollama: `ollama create "
                f"{name.lower()} -f export/Modelfile && ollama run {name.lower()}`"
                if (export or {}).get("modelfile")
                else ""
            )
            + " (the files are in the run's `export/` folder)"
        )
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value).replace("|", "\\|").replace("\n", " ")
