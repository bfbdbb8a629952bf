"""The Ollama Modelfile: its TEMPLATE is read off the chat template and renders prompts as the
template does; templates it cannot express are refused, not garbled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.deploy.modelfile import (
    TemplateShapeError,
    chat_shape,
    modelfile_text,
    plain_shape,
    stop_strings,
)
from smolora_recipes.inference.generation import format_prompt
from smolora_recipes.models.runtime import load_tokenizer

NO_SYSTEM_ROLE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
SYSTEM_CHANGES_TURNS = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}"
    "{% if messages[0]['role'] == 'system' %};{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
MENTIONS_CODE = (
    "{% for m in messages %}{{ '{{' }}{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}>{% endif %}"
)


def tokenizer_with(folder: Path, template: str | None) -> Any:
    return load_tokenizer(folder, False, template)


def test_the_chatml_shape_renders_prompts_as_the_template_does(tiny_model_dir: Path) -> None:
    tokenizer = tokenizer_with(tiny_model_dir, None)
    shape = chat_shape(tokenizer)
    for system in (None, "Answer in one word."):
        prompt = "What is quux?"
        assert shape.render(prompt, system) == format_prompt(tokenizer, prompt, True, system)
    assert shape.go_template() == (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n<|im_start|>user\n"
        "{{ else }}<|im_start|>user\n{{ end }}{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n"
        "{{ .Response }}<|im_end|>\n"
    )
    assert stop_strings(shape, tokenizer)[0] == "<|im_end|>"


def test_a_template_without_system_messages_gets_no_system_branch(tiny_model_dir: Path) -> None:
    shape = chat_shape(tokenizer_with(tiny_model_dir, NO_SYSTEM_ROLE))
    assert shape.before_system is None
    assert shape.go_template() == (
        "<start_of_turn>user\n{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n"
        "{{ .Response }}<end_of_turn>\n"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [(SYSTEM_CHANGES_TURNS, "differently with and without"), (MENTIONS_CODE, "`{{`")],
)
def test_templates_ollama_cannot_express_are_refused(
    tiny_model_dir: Path, template: str, message: str
) -> None:
    with pytest.raises(TemplateShapeError, match=message):
        chat_shape(tokenizer_with(tiny_model_dir, template))


def test_the_modelfile_names_the_gguf_template_stops_and_system_prompt(
    tiny_model_dir: Path,
) -> None:
    tokenizer = tokenizer_with(tiny_model_dir, None)
    shape = chat_shape(tokenizer)
    text = modelfile_text("run-q8_0.gguf", shape, ["<|im_end|>", 'say "stop"'], "Be brief.")
    lines = text.splitlines()
    assert lines[0] == "FROM ./run-q8_0.gguf"
    assert text.count('TEMPLATE """{{ if .System }}') == 1
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert 'PARAMETER stop "say \\"stop\\""' in lines
    assert lines[-1] == 'SYSTEM """Be brief."""'


def test_a_system_prompt_that_would_end_the_modelfile_string_is_refused(
    tiny_model_dir: Path,
) -> None:
    shape = chat_shape(tokenizer_with(tiny_model_dir, None))
    with pytest.raises(TemplateShapeError, match='"""'):
        modelfile_text("run-f16.gguf", shape, [], 'say """ twice')


def test_completion_runs_keep_the_prompt_and_separator() -> None:
    shape = plain_shape("\n### Answer:\n")
    assert shape.render("2+2?", "ignored") == "2+2?\n### Answer:\n"
    assert shape.go_template() == "{{ .Prompt }}\n### Answer:\n{{ .Response }}"
