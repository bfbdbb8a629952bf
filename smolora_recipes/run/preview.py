"""`smolora preview`: the dataset step's output, shown as the model will see it.

The load and dataset steps run through the step cache exactly as `smolora run` would (so a
preview followed by a run builds the dataset once), in a throw-away run folder; nothing else
is trained or written.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import Problem, SmoloraError, UserInputError
from smolora_recipes.data.preview import preview_row
from smolora_recipes.data.splits import load_training_rows
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.store.cache import StepCache


@dataclass
class Preview:
    """Rendered examples and the data statistics of one recipe's dataset step."""

    fingerprint: str
    outcome: str
    stats: dict[str, Any]
    examples: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """Plain data for `preview --json`."""
        return {
            "dataset_fingerprint": self.fingerprint,
            "outcome": self.outcome,
            "stats": self.stats,
            "examples": self.examples,
        }


def build_preview(
    loaded: LoadedRecipe, cache: StepCache | None, count: int, source: str | None
) -> Preview:
    """Run (or reuse) load and dataset, then render `count` training rows of `source`."""
    from smolora_recipes.models.runtime import load_tokenizer
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.run.executor import execute
    from smolora_recipes.run.state import RunOptions

    wanted = _source_index(loaded, source)
    plan = build_plan(loaded)
    with tempfile.TemporaryDirectory(prefix="smolora-preview-") as scratch:
        throwaway = dataclasses.replace(loaded.paths, runs_dir=Path(scratch))
        state = execute(
            dataclasses.replace(loaded, paths=throwaway),
            plan,
            "smolora preview",
            lambda line: None,
            RunOptions(cache=cache, until="dataset"),
        )
        if state.status != "ok":
            error = state.error or {}
            raise PreviewFailed(str(error.get("message")), state.exit_code)
        records = {record.name: record for record in state.records}
        assert state.results.load is not None and state.results.dataset is not None
        model_folder = state.results.load.folder_path
        tokenizer = load_tokenizer(
            model_folder, loaded.recipe.model.trust_remote_code, loaded.recipe.data.chat_template
        )
        train = load_training_rows(state.outputs["dataset"])
        rows = _rows_of(train, wanted, count)
        examples = [preview_row(row, tokenizer) for row in rows]
        return Preview(
            plan.step("dataset").fingerprint,
            records["dataset"].outcome,
            state.results.dataset.to_json(),
            examples,
        )


def _rows_of(dataset: Any, source: int | None, count: int) -> list[dict[str, Any]]:
    """The first `count` rows (of one source when given), read through Arrow."""
    if source is None:
        return [dataset[index] for index in range(min(count, len(dataset)))]
    import pyarrow.compute as pc

    mask = pc.equal(dataset.data.column("source"), source)
    indices = pc.indices_nonzero(mask).to_pylist()[:count]
    return [dataset[index] for index in indices]


def _source_index(loaded: LoadedRecipe, source: str | None) -> int | None:
    """`--source` as an index: a source's label (path or dataset id) or its position."""
    if source is None:
        return None
    from smolora_recipes.data.readers import source_label

    labels = [source_label(s, loaded.base_dir) for s in loaded.recipe.data.sources]
    if source in labels:
        return labels.index(source)
    if source.isdecimal() and int(source) < len(labels):
        return int(source)
    raise UserInputError(
        Problem(
            f"no data source named {source!r}",
            field="--source",
            hint=f"sources here: {', '.join(labels)} (or their positions 0-{len(labels) - 1})",
        )
    )


class PreviewFailed(SmoloraError):
    """The load or dataset step failed while building a preview (its message says why)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
