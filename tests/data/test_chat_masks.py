"""Assistant-only loss masks on the real chat templates of five model families, none of which
marks its assistant turns with `{% generation %}`: for multi-turn and tool-calling conversations,
every token of an assistant turn (its text, its tool calls, its end-of-turn token) carries loss,
and no token of a system, user or tool turn does. Checked independently of how the mask is
computed: each turn's text is a unique word, found in the rendered text by character offsets."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data.chat_tokens import chat_tokens, render_chat
from smolora_recipes.data.long_text import encode
from tests.data.chat_templates import TEMPLATES
from tests.data.test_conversations import WEATHER

MULTI_TURN = [
    {"role": "system", "content": "Systemtext alpha"},
    {"role": "user", "content": "Userone bravo"},
    {"role": "assistant", "content": "Assistantone charlie"},
    {"role": "user", "content": "Usertwo delta"},
    {"role": "assistant", "content": "Assistanttwo echo"},
]
TOOL_CALL = [
    {"role": "user", "content": "Userone weather in Paris"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "abc123def",  # Mistral wants 9 alphanumerics
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Parisville"}},
            }
        ],
    },
    {
        "role": "tool",
        "content": "Toolresult foxtrot",
        "tool_call_id": "abc123def",
        "name": "get_weather",
    },
    {"role": "assistant", "content": "Assistantthree golf"},
]
NO_SYSTEM = {"gemma2"}  # raises on a system message
TOOLS = {"qwen2.5", "llama3.1", "mistral"}  # templates that render tool calls


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def cases() -> list[Any]:
    found = []
    for family in TEMPLATES:
        found.append(pytest.param(family, "multi-turn", id=f"{family}-multi-turn"))
        if family in TOOLS:
            found.append(pytest.param(family, "tool-call", id=f"{family}-tool-call"))
    return found


def check_mask(tokenizer: Any, messages: list[dict[str, Any]], tools: Any) -> None:
    ids, mask = chat_tokens(messages, tokenizer, "assistant", tools=tools)
    text = render_chat(tokenizer, messages, generation=False, tokenize=False, tools=tools)
    encoded, offsets = encode(tokenizer, text)
    assert list(encoded) == ids

    def tokens_of(word: str, after: int) -> tuple[list[int], int]:
        start = text.index(word, after)
        end = start + len(word)
        return [i for i, (a, b) in enumerate(offsets) if a < end and b > start], end

    cursor = 0
    for message in messages:
        words = [message["content"].split()[0]] if message["content"] else []
        for call in message.get("tool_calls") or []:
            words += [call["function"]["name"], "Parisville"]
        end = 0
        if message["role"] == "system" and words[0] not in text:
            continue  # Mistral v0.3 writes it only when the conversation ends with the user
        for word in words:  # a system message may move
            positions, end = tokens_of(word, 0 if message["role"] == "system" else cursor)
            cursor = cursor if message["role"] == "system" else end
            expected = 1 if message["role"] == "assistant" else 0
            carried = {mask[i] for i in positions}
            assert carried == {expected}, f"{message['role']} word {word!r}: mask {carried}"
        if message["role"] == "assistant":  # its end-of-turn token too
            content = message["content"]
            end = text.index(content, cursor - len(words[-1])) + len(content) if content else end
            following = next(i for i, (a, _) in enumerate(offsets) if a >= end)
            assert mask[following] == 1, f"end of turn {text[end : end + 20]!r}"
    assert sum(mask) < len(mask)


@pytest.mark.parametrize(("family", "kind"), cases())
def test_every_assistant_token_and_no_other_carries_loss(
    tokenizer: Any, family: str, kind: str
) -> None:
    tokenizer = copy.copy(tokenizer)
    tokenizer.chat_template = TEMPLATES[family]
    if kind == "multi-turn":
        messages = MULTI_TURN[1:] if family in NO_SYSTEM else MULTI_TURN
        check_mask(tokenizer, messages, None)
    else:
        check_mask(tokenizer, TOOL_CALL, [WEATHER])


def test_reasoning_is_a_think_block_for_a_template_without_it_and_can_carry_no_loss(
    tokenizer: Any,
) -> None:
    messages = [
        {"role": "user", "content": "Userone hotel"},
        {
            "role": "assistant",
            "content": "Assistantone india",
            "reasoning_content": "Thought juliet",
        },
    ]
    text = render_chat(tokenizer, messages[:1], generation=True, tokenize=False)
    ids, mask = chat_tokens(messages, tokenizer, "assistant")
    rendered = tokenizer.decode(ids)
    assert rendered.startswith(text)
    assert "<think>\nThought juliet\n</think>\n\nAssistantone india" in rendered
    _, without = chat_tokens(messages, tokenizer, "assistant", train_on_reasoning=False)
    assert sum(without) < sum(mask)
    _, offsets = encode(tokenizer, rendered)
    start = rendered.index("Thought juliet")
    end = start + len("Thought juliet")
    thought = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    assert {mask[i] for i in thought} == {1} and {without[i] for i in thought} == {0}
    answer = rendered.index("Assistantone")
    assert all(without[i] for i, (a, _) in enumerate(offsets) if a >= answer)
