"""Records -> training examples, streamed: text (template, chunks), chat or completion; dedup.

An example is stored as a row `{source, origin, payload}` whose payload is the JSON of its
content: `{"text"}`, `{"messages"}` or `{"prompt", "completion"}`. Rows stream out one at a
time, so a corpus larger than memory flows straight into an Arrow file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.data.chunking import Chunker, ChunkStats
from smolora_recipes.data.readers import read_source, source_label
from smolora_recipes.data.records import (
    DataError,
    ErrorPolicy,
    Record,
    did_you_mean,
    record_error,
)
from smolora_recipes.data.selection import SourceCounts, select_records
from smolora_recipes.data.templates import RecordTemplate
from smolora_recipes.recipe.data_section import DataSection
from smolora_recipes.recipe.sources import DataSource

ROLES = {"system", "user", "assistant"}


@dataclass
class SourceReport:
    """One source in the data statistics."""

    name: str
    type: str
    counts: SourceCounts
    policy: ErrorPolicy
    examples: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain data for the report."""
        return {
            "name": self.name,
            "type": self.type,
            "rows": self.counts.read,
            "skipped_errors": self.policy.skipped,
            "skipped_examples": self.policy.quoted,
            "filtered_out": self.counts.filtered_out,
            "beyond_limit": self.counts.beyond_limit,
            "used": self.counts.used,
            "examples": self.examples,
        }


@dataclass
class ExampleStats:
    """What building examples did, filled in while rows stream."""

    sources: list[SourceReport] = field(default_factory=list)
    examples: int = 0
    duplicates_removed: int = 0
    chunking: ChunkStats | None = None


def build_examples(
    data: DataSection, base_dir: Path, tokenizer: Any, stats: ExampleStats
) -> Iterator[dict[str, Any]]:
    """Example rows of every source in order, deduplicated when `data.dedup`."""
    template = RecordTemplate(data.template) if data.template else None
    chunker = Chunker(data.chunking, tokenizer) if data.chunking else None
    seen: set[int] = set()
    for index, source in enumerate(data.sources):
        policy = ErrorPolicy(source.on_error)
        records, counts = select_records(
            read_source(source, index, base_dir, policy), source, index, data.seed
        )
        report = SourceReport(source_label(source, base_dir), source.type, counts, policy)
        stats.sources.append(report)
        for record in records:
            try:
                payloads = _payloads(record, data, source, template, chunker)
            except DataError as error:
                policy.handle(error)  # raised again unless the source says `on_error: skip`
                continue
            for payload in payloads:
                text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
                if data.dedup:
                    key = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
                    if key in seen:
                        stats.duplicates_removed += 1
                        continue
                    seen.add(key)
                report.examples += 1
                stats.examples += 1
                yield {"source": index, "origin": record.origin, "payload": text}
    if chunker is not None:
        stats.chunking = chunker.stats


def check_first_records(data: DataSection, base_dir: Path, count: int = 5) -> int:
    """Read the first `count` records of every source and make examples of them as the dataset
    step would (renames, filters, templates, fields; no chunking, no tokenizer): the first bad
    one is a located DataError. Returns how many records were read."""
    template = RecordTemplate(data.template) if data.template else None
    read = 0
    for index, source in enumerate(data.sources):
        first = itertools.islice(read_source(source, index, base_dir, ErrorPolicy()), count)
        records, counts = select_records(first, source, index, data.seed)
        for record in records:
            _payloads(record, data, source, template, None)
        read += counts.read
    return read


def _payloads(
    record: Record,
    data: DataSection,
    source: DataSource,
    template: RecordTemplate | None,
    chunker: Chunker | None,
) -> list[dict[str, Any]]:
    if data.format == "chat":
        return [{"messages": with_system_prompt(chat_messages(record, source), data.system_prompt)}]
    if data.format == "completion":
        prompt, completion = _pair(record, source)
        return [{"prompt": prompt, "completion": completion}]
    text = template.render(record) if template is not None else _text(record, source)
    if chunker is None:
        return [{"text": text}] if text.strip() else []
    return [{"text": chunk} for chunk in chunker.chunks(text)]


def _text(record: Record, source: DataSource) -> str:
    text_field = getattr(source, "text_field", "text")
    text = record.fields.get(text_field)
    if not isinstance(text, str) or not text.strip():
        raise _record_error(
            record,
            f"field {text_field!r} is missing or not a non-empty string"
            f"{did_you_mean(text_field, record)}",
            hint=f"set the source's `text_field`, or a `data.template`; fields here: "
            f"{_field_names(record)}",
        )
    return text


def _pair(record: Record, source: DataSource) -> tuple[str, str]:
    names = getattr(source, "prompt_field", "prompt"), getattr(source, "completion_field", "")
    values = [record.fields.get(name) for name in names]
    for name, value in zip(names, values, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise _record_error(
                record,
                f"field {name!r} is missing or not a non-empty string{did_you_mean(name, record)}",
                hint="set the source's `prompt_field` and `completion_field`; fields here: "
                f"{_field_names(record)}",
            )
    return values[0], values[1]  # type: ignore[return-value]


def with_system_prompt(
    messages: list[dict[str, str]], system_prompt: str | None
) -> list[dict[str, str]]:
    """`messages` led by `system_prompt` (`data.system_prompt`) when they have no system
    message of their own; unchanged when it is None."""
    if system_prompt is None or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


def chat_messages(record: Record, source: DataSource) -> list[dict[str, str]]:
    """The validated `{role, content}` list of a chat record (or of its prompt/completion)."""
    messages_field = getattr(source, "messages_field", "messages")
    messages = record.fields.get(messages_field)
    if messages is None and getattr(source, "prompt_field", None) in record.fields:
        prompt, completion = _pair(record, source)
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        system_field = getattr(source, "system_field", None)
        if system_field and record.fields.get(system_field):
            messages.insert(0, {"role": "system", "content": record.fields[system_field]})
    if not isinstance(messages, list) or not messages:
        raise _record_error(
            record,
            f"field {messages_field!r} is missing or not a list of messages"
            f"{did_you_mean(messages_field, record)}",
            hint=f"chat records hold {messages_field}: [{{role, content}}, ...] (set the "
            "source's `messages_field`), or a prompt and a completion (`prompt_field`, "
            f"`completion_field`); fields here: {_field_names(record)}",
        )
    clean = []
    for position, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(content, str):
            raise _record_error(
                record,
                f"message {position} must be {{role: system|user|assistant, content: text}}",
            )
        clean.append({"role": role, "content": content})
    if not any(message["role"] == "assistant" for message in clean):
        raise _record_error(record, "no assistant message: nothing to learn from")
    return clean


def _field_names(record: Record) -> str:
    return ", ".join(record.fields) or "none"


def _record_error(record: Record, message: str, hint: str = "") -> Exception:
    return record_error(record, message, field="data", hint=hint)
