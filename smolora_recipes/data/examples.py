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
from smolora_recipes.data.conversations import (
    conversation,
    field_names,
    prompt_and_completion,
    with_system_prompt,
)
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
                # keys in the record's order: a chat template writes tool schemas as given
                text = json.dumps(payload, ensure_ascii=False)
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
        payload = conversation(record, source)
        payload["messages"] = with_system_prompt(payload["messages"], data.system_prompt)
        return [payload]
    if data.format == "completion":
        prompt, completion = prompt_and_completion(record, source)
        return [{"prompt": prompt, "completion": completion}]
    text = template.render(record) if template is not None else _text(record, source)
    if chunker is None:
        return [{"text": text}] if text.strip() else []
    return [{"text": chunk} for chunk in chunker.chunks(text)]


def _text(record: Record, source: DataSource) -> str:
    text_field = getattr(source, "text_field", "text")
    text = record.fields.get(text_field)
    if not isinstance(text, str) or not text.strip():
        raise record_error(
            record,
            f"field {text_field!r} is missing or not a non-empty string"
            f"{did_you_mean(text_field, record)}",
            field="data",
            hint=f"set the source's `text_field`, or a `data.template`; fields here: "
            f"{field_names(record)}",
        )
    return text
