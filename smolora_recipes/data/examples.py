"""Records -> training examples: render text or validate chat, chunk, dedup, split train/eval."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.data.chunking import chunk_words
from smolora_recipes.data.readers import read_source, source_label
from smolora_recipes.data.records import Record, data_error, record_error
from smolora_recipes.data.templates import RecordTemplate
from smolora_recipes.recipe.schema import DataSection

ROLES = {"system", "user", "assistant"}


@dataclass(frozen=True)
class Example:
    """One training example: a text, or a list of chat messages; and where it came from."""

    text: str | None
    messages: list[dict[str, str]] | None
    origin: str

    def key(self) -> str:
        """What makes two examples duplicates."""
        return self.text if self.text is not None else json.dumps(self.messages, sort_keys=True)


@dataclass
class DataStats:
    """Counts of what happened to the data, for the report."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    rows_total: int = 0
    rows_after_chunking: int = 0
    duplicates_removed: int = 0
    train_rows: int = 0
    eval_rows: int = 0


@dataclass
class BuiltExamples:
    """The train and eval examples, and the statistics of building them."""

    train: list[Example]
    eval: list[Example]
    stats: DataStats


def build_examples(data: DataSection, base_dir: Path) -> BuiltExamples:
    """Read every source and turn its records into deduplicated, split examples."""
    stats = DataStats()
    template = RecordTemplate(data.template) if data.template else None
    examples: list[Example] = []
    for index, source in enumerate(data.sources):
        rows = 0
        for record in read_source(source, index, base_dir):
            rows += 1
            examples.extend(_to_examples(record, data, source, template))
        stats.sources.append(
            {"name": source_label(source, base_dir), "type": source.type, "rows": rows}
        )
        stats.rows_total += rows
    stats.rows_after_chunking = len(examples)
    kept = examples
    if data.dedup:
        unique: dict[str, Example] = {}
        for example in examples:
            unique.setdefault(example.key(), example)
        kept = list(unique.values())
        stats.duplicates_removed = len(examples) - len(kept)
    if not kept:
        raise data_error(
            "the data sources produced no examples",
            stats.sources[0]["name"] if stats.sources else "data.sources",
            field="data.sources",
            hint="check the files are not empty and `limit` is not 0",
        )
    train, held_out = split_examples(kept, data.eval_split, data.seed)
    stats.train_rows, stats.eval_rows = len(train), len(held_out)
    return BuiltExamples(train, held_out, stats)


def split_examples(
    examples: list[Example], eval_split: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Shuffle with `seed`, then hold out `eval_split` of the examples (at least one if > 0)."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    if eval_split <= 0 or len(shuffled) < 2:
        return shuffled, []
    count = min(max(1, round(len(shuffled) * eval_split)), len(shuffled) - 1)
    return shuffled[count:], shuffled[:count]


def _to_examples(
    record: Record, data: DataSection, source: Any, template: RecordTemplate | None
) -> list[Example]:
    if data.format == "chat":
        return [Example(None, chat_messages(record, source.messages_field), record.origin)]
    if template is not None:
        text = template.render(record)
    else:
        text_field = getattr(source, "text_field", "text")
        text = record.fields.get(text_field)
        if not isinstance(text, str) or not text.strip():
            raise _record_error(
                record,
                f"field {text_field!r} is missing or not a non-empty string",
                hint=f"set the source's `text_field`, or a `data.template`; fields here: "
                f"{', '.join(record.fields) or 'none'}",
            )
    if data.chunking is None:
        return [Example(text, None, record.origin)]
    chunks = chunk_words(text, data.chunking.size, data.chunking.overlap)
    return [Example(chunk, None, record.origin) for chunk in chunks]


def chat_messages(record: Record, messages_field: str) -> list[dict[str, str]]:
    """The validated `{role, content}` list of a chat record."""
    messages = record.fields.get(messages_field)
    if not isinstance(messages, list) or not messages:
        raise _record_error(
            record,
            f"field {messages_field!r} is missing or not a list of messages",
            hint=f"chat records hold {messages_field}: [{{role, content}}, ...]; set the "
            f"source's `messages_field`; fields here: {', '.join(record.fields) or 'none'}",
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


def _record_error(record: Record, message: str, hint: str = "") -> Exception:
    return record_error(record, message, field="data", hint=hint)
