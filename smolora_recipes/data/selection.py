"""Which records of a source are used: renamed fields, `filter`, `limit` (first or at random).

Mixing weights act later, on the training split (see `weighted_indices`), so that copies of an
example never land in both train and eval and deduplication does not undo them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from smolora_recipes.data.records import Record
from smolora_recipes.data.templates import RecordFilter
from smolora_recipes.recipe.sources import DataSource


@dataclass
class SourceCounts:
    """Per source, what selection did: read, filtered out, beyond the limit, used."""

    read: int = 0
    filtered_out: int = 0
    used: int = 0
    beyond_limit: int = 0  # known when `shuffle` read the whole source


def source_seed(source: DataSource, index: int, data_seed: int) -> str:
    """The seed of a source's random choices: its own `seed`, else `data.seed` and its index."""
    return f"{source.seed if source.seed is not None else data_seed}/{index}"


def select_records(
    records: Iterable[Record], source: DataSource, index: int, data_seed: int
) -> tuple[Iterator[Record], SourceCounts]:
    """The records of `source` that will be used, lazily, and the counts that fill as they go."""
    counts = SourceCounts()
    renames = getattr(source, "fields", {})
    keep = (
        RecordFilter(source.filter, f"data.sources.{index}.filter").keeps if source.filter else None
    )

    def chosen() -> Iterator[Record]:
        for record in records:
            counts.read += 1
            if renames:
                record = _renamed(record, renames)
            if keep is not None and not keep(record):
                counts.filtered_out += 1
                continue
            yield record

    selected: Iterator[Record] = chosen()
    if source.limit is not None:
        if source.shuffle:
            rng = random.Random(source_seed(source, index, data_seed))
            selected = iter(_reservoir(selected, source.limit, rng, counts))
        else:
            selected = islice(selected, source.limit)  # later records are not even read
    return _counted(selected, counts), counts


def _renamed(record: Record, renames: dict[str, str]) -> Record:
    fields = dict(record.fields)
    for new, old in renames.items():
        if old in record.fields:
            fields[new] = record.fields[old]
    return Record(fields, record.origin)


def _counted(records: Iterator[Record], counts: SourceCounts) -> Iterator[Record]:
    for record in records:
        counts.used += 1
        yield record


def _reservoir(
    records: Iterator[Record], limit: int, rng: random.Random, counts: SourceCounts
) -> list[Record]:
    """A uniform random sample of `limit` records in one pass (Algorithm R), in file order."""
    sample: list[tuple[int, Record]] = []
    seen = 0
    for seen, record in enumerate(records, 1):
        if len(sample) < limit:
            sample.append((seen, record))
        else:
            slot = rng.randrange(seen)
            if slot < limit:
                sample[slot] = (seen, record)
    counts.beyond_limit = max(seen - limit, 0)
    return [record for _, record in sorted(sample, key=lambda pair: pair[0])]


def copies_for(weight: float, rng: random.Random) -> int:
    """How many times one example is used for a mixing `weight`: its whole part, plus one more
    with the probability of its fractional part."""
    whole = math.floor(weight)
    return whole + (rng.random() < weight - whole)


def weighted_indices(sources: list[int], weights: list[float], seed: int) -> list[int] | None:
    """Row indices repeating each row `weight` times on average (None when all weights are 1).

    A weight of 2.5 uses every row twice and half of them a third time; 0.3 keeps 30 percent.
    The fractional part is drawn with `seed`, so the mixture is reproducible.
    """
    if all(weight == 1.0 for weight in weights):
        return None
    rng = random.Random(seed)
    indices: list[int] = []
    for row, source in enumerate(sources):
        indices.extend([row] * copies_for(weights[source], rng))
    rng.shuffle(indices)  # copies spread through the split, not side by side
    return indices
