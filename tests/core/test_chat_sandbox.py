"""Chat templates render in our bounded sandbox exactly as transformers renders them, and the
bounds hold there: a template cannot build a huge value or reach Python internals."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateError
from jinja2.sandbox import SecurityError

from smolora_recipes.core.chat_sandbox import chat_sandbox
from smolora_recipes.data.chat_tokens import render_chat

CONVERSATION = [
    {"role": "system", "content": "Be brief. <b>&</b>"},
    {"role": "user", "content": "hello\n  there"},
    {"role": "assistant", "content": "  world  "},
    {"role": "user", "content": "again"},
    {"role": "assistant", "content": "fox"},
]

# Shaped like the templates real model families ship (written here: no hub in tests).
TEMPLATES = {
    "llama3": (
        "{{ bos_token }}{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
    ),
    "qwen-tools": (
        "{%- if tools %}{{ raise_exception('no tools here') }}{%- endif %}\n"
        "{%- set ns = namespace(last_user=0) %}\n"
        "{%- for message in messages %}\n"
        "  {%- if message.role == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}\n"
        "{%- endfor %}\n"
        "{%- for message in messages %}\n"
        "  {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n"
        "  {%- if loop.index0 == ns.last_user %}{{- '<!-- last user -->' }}{%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n"
    ),
    "gemma-alternation": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{% set first = messages[0]['content'] + '\\n\\n' %}{% set loop_messages = messages[1:] %}"
        "{% else %}{% set first = '' %}{% set loop_messages = messages %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('roles must alternate user/assistant/user/assistant') }}{% endif %}"
        "{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
        "{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\\n' + (first if loop.first else '')"
        " + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
    ),
    "phi3-block-lines": (
        "{% for message in messages %}\n"
        "    {% if message['role'] == 'system' %}\n"
        "<|system|>\n{{ message['content'] }}<|end|>\n"
        "    {% else %}\n"
        "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
        "    {% endif %}\n"
        "{% endfor %}\n"
        "{% if add_generation_prompt %}\n<|assistant|>\n{% endif %}\n"
    ),
    "generation-tags-and-json": (
        "{% for message in messages %}{% if message.role == 'assistant' %}{% generation %}"
        "{{ message | tojson }}{{ eos_token }}{% endgeneration %}"
        "{% else %}{{ dict(role=message.role, n=loop.length) | tojson(sort_keys=true) }}"
        "{% if loop.last %}{% break %}{% endif %}{% endif %}{% endfor %}"
        "{{ missing_variable }}{% if add_generation_prompt %}>>{% endif %}"
    ),
}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize("name", [None, *TEMPLATES])
@pytest.mark.parametrize("generation", [False, True])
def test_a_template_renders_as_transformers_renders_it(
    tokenizer: Any, name: str | None, generation: bool
) -> None:
    custom = copy.deepcopy(tokenizer)
    if name is not None:
        custom.chat_template = TEMPLATES[name]
    messages = CONVERSATION[:3] if generation else CONVERSATION
    expected = custom.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation
    )
    text = render_chat(custom, messages, generation=generation, tokenize=False)
    assert text == expected and len(text) > 40
    ids = custom.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation)
    assert render_chat(custom, messages, generation=generation, tokenize=True) == list(
        ids["input_ids"]
    )


def test_a_template_refusing_a_conversation_raises_its_message(tokenizer: Any) -> None:
    custom = copy.deepcopy(tokenizer)
    custom.chat_template = TEMPLATES["gemma-alternation"]
    with pytest.raises(TemplateError, match="roles must alternate"):
        render_chat(custom, CONVERSATION[1:2] * 2, generation=False, tokenize=False)


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("{{ 'a' * 3000000000 }}", "builds more than 1000000 items"),
        ("{{ 'a' | center(3000000000) }}", "a width of more than"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "building a text of more than",
        ),
        ("{% set ns = namespace(_x=1) %}", "may not start with an underscore"),
        ("{% set ns = namespace() %}{% set ns._x = 1 %}", "may not start with an underscore"),
        ("{{ messages.append(1) }}", "unsafe"),
        ("{{ dict.__class__.__subclasses__() }}", "unsafe"),
    ],
)
def test_the_bounds_hold_for_chat_templates(template: str, refusal: str) -> None:
    compiled = chat_sandbox().from_string(template)
    with pytest.raises(SecurityError, match=refusal):
        compiled.render(messages=[{"role": "user", "content": "x"}])
