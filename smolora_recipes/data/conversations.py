"""Chat records -> the messages a chat template renders: OpenAI-style `{role, content}` or
ShareGPT `{from, value}` turns, role names mapped, tool definitions and tool calls normalised,
reasoning kept as `reasoning_content`; anything else is a located error naming the record.

A normalised message has `role` (system, user, assistant or tool) and `content` (text), and
where the record gave them `tool_calls` (`[{type: function, function: {name, arguments}}]`,
arguments a mapping), `tool_call_id`, `name` (a tool result's tool) and `reasoning_content`.
"""

from __future__ import annotations

import json
from typing import Any

from smolora_recipes.data.records import Record, did_you_mean, record_error
from smolora_recipes.recipe.sources import DataSource

ROLES = ("system", "user", "assistant", "tool")
TOOL_CALL = "tool_call"  # a mapped role: an assistant turn whose text is the JSON of its calls
DEFAULT_ROLES = {
    "openai": {role: role for role in ROLES},
    "sharegpt": {
        "system": "system",
        "human": "user",
        "user": "user",
        "gpt": "assistant",
        "assistant": "assistant",
        "observation": "tool",
        "tool": "tool",
        "function_call": TOOL_CALL,
    },
}
KEYS = {"openai": ("role", "content"), "sharegpt": ("from", "value")}
REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")


def with_system_prompt(
    messages: list[dict[str, Any]], system_prompt: str | None
) -> list[dict[str, Any]]:
    """`messages` led by `system_prompt` (`data.system_prompt`) when they have no system
    message of their own; unchanged when it is None."""
    if system_prompt is None or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


def conversation(record: Record, source: DataSource) -> dict[str, Any]:
    """`{"messages": [...]}` of a chat record, with `"tools"` when it defines any."""
    payload: dict[str, Any] = {"messages": chat_messages(record, source)}
    tools = _tools(record, source)
    if tools:
        payload["tools"] = tools
    return payload


def messages_field(source: DataSource) -> str:
    """The record field holding a source's conversation (`messages`, ShareGPT `conversations`)."""
    named = getattr(source, "messages_field", None)
    if named:
        return named
    return (
        "conversations" if getattr(source, "conversation", "openai") == "sharegpt" else "messages"
    )


def chat_messages(record: Record, source: DataSource) -> list[dict[str, Any]]:
    """The validated, normalised message list of a chat record (or of its prompt/completion)."""
    field = messages_field(source)
    messages = record.fields.get(field)
    if messages is None and getattr(source, "prompt_field", None) in record.fields:
        return _prompt_completion(record, source)
    style = getattr(source, "conversation", "openai")
    role_key, content_key = KEYS[style]
    if not isinstance(messages, list) or not messages:
        raise _error(
            record,
            f"field {field!r} is missing or not a list of messages{did_you_mean(field, record)}",
            hint=f"chat records hold {field}: [{{{role_key}, {content_key}}}, ...] (set the "
            "source's `messages_field` and `conversation`), or a prompt and a completion "
            f"(`prompt_field`, `completion_field`); fields here: {field_names(record)}",
        )
    roles = {**DEFAULT_ROLES[style], **getattr(source, "roles", {})}
    clean = [
        _message(record, position, item, style, roles) for position, item in enumerate(messages)
    ]
    if not any(message["role"] == "assistant" for message in clean):
        raise _error(record, "no assistant message: nothing to learn from")
    last = clean[-1]["role"]
    if last != "assistant":
        raise _error(
            record,
            f"the last message is the {last}'s: nothing answers it",
            hint="end each conversation with an assistant turn; `on_error: skip` drops and "
            "counts the ones that do not",
        )
    return clean


def _message(
    record: Record, position: int, item: Any, style: str, roles: dict[str, str]
) -> dict[str, Any]:
    """One turn, normalised; an unknown role or a malformed turn names its position."""
    role_key, content_key = KEYS[style]
    if not isinstance(item, dict):
        raise _error(record, f"message {position} is not a mapping {{{role_key}, {content_key}}}")
    written = item.get(role_key)
    role = roles.get(written) if isinstance(written, str) else None
    if role is None:
        known = ", ".join(sorted(roles))
        raise _error(
            record,
            f"message {position} has {role_key} {written!r}; known: {known}",
            hint="map other role names with the source's `roles`, e.g. `roles: {bot: assistant}`",
        )
    content = item.get(content_key)
    if role == TOOL_CALL:
        return {"role": "assistant", "content": "", "tool_calls": _calls(record, position, content)}
    message: dict[str, Any] = {"role": role, "content": _text(record, position, content, role)}
    if role == "assistant":
        if item.get("tool_calls") is not None:
            message["tool_calls"] = _calls(record, position, item["tool_calls"])
        reasoning = next((item[key] for key in REASONING_KEYS if item.get(key)), None)
        if reasoning is not None:
            if not isinstance(reasoning, str):
                raise _error(record, f"message {position}: its reasoning is not text")
            message["reasoning_content"] = reasoning
    if role == "tool":
        for key in ("tool_call_id", "name"):
            if isinstance(item.get(key), str):
                message[key] = item[key]
    return message


def _text(record: Record, position: int, content: Any, role: str) -> str:
    """A turn's text: a string; a tool result may be JSON data; a tool-calling turn may be
    empty (null)."""
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":
        return ""
    if role == "tool" and isinstance(content, dict | list):
        return json.dumps(content, ensure_ascii=False)
    raise _error(record, f"message {position} ({role}) has no text content")


def _calls(record: Record, position: int, calls: Any) -> list[dict[str, Any]]:
    """Tool calls as `{type: function, function: {name, arguments}}` (arguments a mapping),
    from OpenAI's form or a bare `{name, arguments}` (one or a list; JSON text is parsed)."""
    calls = _parsed(calls)
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        raise _error(record, f"message {position}: tool calls are not a list of calls")
    normal = []
    for call in calls:
        call = _parsed(call)
        inner = call.get("function", call) if isinstance(call, dict) else None
        name = inner.get("name") if isinstance(inner, dict) else None
        arguments = _parsed(inner.get("arguments", {})) if isinstance(inner, dict) else None
        if not isinstance(name, str) or not name or not isinstance(arguments, dict):
            raise _error(
                record,
                f"message {position}: a tool call needs a `name` and `arguments` (a mapping, or "
                "its JSON text)",
            )
        entry: dict[str, Any] = {
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            entry["id"] = call["id"]
        normal.append(entry)
    return normal


def _tools(record: Record, source: DataSource) -> list[dict[str, Any]]:
    """The record's tool definitions (JSON schemas; a JSON text is parsed), or none."""
    name = getattr(source, "tools_field", "tools")
    tools = _parsed(record.fields.get(name))
    if tools in (None, "", []):
        return []
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise _error(record, f"field {name!r} is not a list of tool definitions (JSON schemas)")
    return tools


def _prompt_completion(record: Record, source: DataSource) -> list[dict[str, Any]]:
    """A two-turn chat from a record's prompt and completion (and system) fields."""
    prompt, completion = prompt_and_completion(record, source)
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    system_field = getattr(source, "system_field", None)
    if system_field and record.fields.get(system_field):
        messages.insert(0, {"role": "system", "content": record.fields[system_field]})
    return messages


def prompt_and_completion(record: Record, source: DataSource) -> tuple[str, str]:
    """A record's prompt and completion fields, both non-empty text."""
    names = getattr(source, "prompt_field", "prompt"), getattr(source, "completion_field", "")
    values = [record.fields.get(name) for name in names]
    for name, value in zip(names, values, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise _error(
                record,
                f"field {name!r} is missing or not a non-empty string{did_you_mean(name, record)}",
                hint="set the source's `prompt_field` and `completion_field`; fields here: "
                f"{field_names(record)}",
            )
    return values[0], values[1]  # type: ignore[return-value]


def _parsed(value: Any) -> Any:
    """JSON text decoded (tool calls and definitions are often stored as strings)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def field_names(record: Record) -> str:
    """A record's field names, for a hint."""
    return ", ".join(record.fields) or "none"


def _error(record: Record, message: str, hint: str = "") -> Exception:
    return record_error(record, message, field="data", hint=hint)
