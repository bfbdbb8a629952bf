"""Chat records in the shapes public data comes in: OpenAI-style messages with tools, tool calls
and reasoning, ShareGPT turns with their role names (or a recipe's own map), all normalised to
the messages a chat template renders; malformed ones are located errors, or skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.data.test_examples import build, error_of, section

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def chat(tmp_path: Path, records: list[dict[str, Any]], **source: Any) -> list[dict[str, Any]]:
    data = section(tmp_path, [json.dumps(r) for r in records], source, format="chat")
    return build(data, tmp_path)[0]


def test_sharegpt_turns_become_messages(tmp_path: Path) -> None:
    record = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
        ]
    }
    (example,) = chat(tmp_path, [record], conversation="sharegpt")
    assert example == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    }


def test_sharegpt_tool_calls_and_observations(tmp_path: Path) -> None:
    call = json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})
    record = {
        "tools": json.dumps([WEATHER]),  # LLaMA-Factory stores them as JSON text
        "conversations": [
            {"from": "human", "value": "Weather in Paris?"},
            {"from": "function_call", "value": call},
            {"from": "observation", "value": "18 C"},
            {"from": "gpt", "value": "It is 18 C."},
        ],
    }
    (example,) = chat(tmp_path, [record], conversation="sharegpt")
    assert example["tools"] == [WEATHER]
    assert example["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
            }
        ],
    }
    assert example["messages"][2] == {"role": "tool", "content": "18 C"}


def test_a_role_map_of_the_recipe_comes_over_the_formats(tmp_path: Path) -> None:
    record = {"dialog": [{"from": "customer", "value": "Hi"}, {"from": "agent", "value": "Hey"}]}
    (example,) = chat(
        tmp_path,
        [record],
        conversation="sharegpt",
        messages_field="dialog",
        roles={"customer": "user", "agent": "assistant"},
    )
    assert [m["role"] for m in example["messages"]] == ["user", "assistant"]


def test_openai_tool_calls_with_json_arguments_and_tool_results(tmp_path: Path) -> None:
    record = {
        "tools": [WEATHER],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": {"celsius": 18}},
            {"role": "assistant", "content": "It is 18 C.", "reasoning_content": "Read it."},
        ],
    }
    (example,) = chat(tmp_path, [record])
    call = example["messages"][1]
    assert call["content"] == "" and call["tool_calls"][0]["function"]["arguments"] == {
        "city": "Paris"
    }
    assert call["tool_calls"][0]["id"] == "call_1"
    assert example["messages"][2] == {
        "role": "tool",
        "content": '{"celsius": 18}',
        "tool_call_id": "call_1",
    }
    assert example["messages"][3]["reasoning_content"] == "Read it."


def test_thinking_is_reasoning_too(tmp_path: Path) -> None:
    record = {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "thinking": "Two and two."},
        ]
    }
    (example,) = chat(tmp_path, [record])
    assert example["messages"][1] == {
        "role": "assistant",
        "content": "4",
        "reasoning_content": "Two and two.",
    }


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            "the last message is the user's: nothing answers it",
        ),
        (
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"function": {"arguments": "{}"}}],
                },
            ],
            "a tool call needs a `name` and `arguments`",
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": 3}],
            "no text content",
        ),
    ],
)
def test_malformed_conversations_are_located(
    tmp_path: Path, messages: list[dict[str, Any]], message: str
) -> None:
    text = error_of(
        section(tmp_path, [json.dumps({"messages": messages})], format="chat"), tmp_path
    )
    assert message in text and "a.jsonl:1" in text


def test_a_conversation_ending_with_the_user_is_skipped_and_counted(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    open_ended = {"messages": [*good["messages"], {"role": "user", "content": "c"}]}
    lines = [json.dumps(good), json.dumps(open_ended)]
    data = section(tmp_path, lines, {"on_error": "skip"}, format="chat")
    examples, stats, _ = build(data, tmp_path)
    assert len(examples) == 1 and stats.sources[0].policy.skipped == 1


def test_an_unknown_sharegpt_role_names_the_map(tmp_path: Path) -> None:
    record = {"conversations": [{"from": "bot", "value": "x"}]}
    data = section(tmp_path, [json.dumps(record)], {"conversation": "sharegpt"}, format="chat")
    text = error_of(data, tmp_path)
    assert "message 0 has from 'bot'; known: assistant, function_call, gpt" in text
    assert "roles: {bot: assistant}" in text
