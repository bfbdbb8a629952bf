"""The rows a report shows, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from typing import Any

from smolora_recipes.core.text_format import shown


def accuracy_line(samples: dict[str, Any] | None) -> str | None:
    """'accuracy: base 0/24 (0%) -> tuned 24/24 (100%)', or None when nothing is scored."""
    if not samples or not samples.get("scored"):
        return None
    items = [i for i in samples.get("items", []) if i.get("expect") is not None]

    def part(key: str) -> str:
        values = [i.get(key) for i in items if i.get(key) is not None]
        if not values:
            return "n/a"
        return f"{sum(values)}/{len(values)} ({sum(values) / len(values):.0%})"

    return f"accuracy: base {part('base_ok')} -> tuned {part('tuned_ok')}"


def metric_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the headline training metrics."""
    train = report.get("train") or {}
    rows = []
    before, after = train.get("eval_loss_before"), train.get("eval_loss_after")
    if before is not None or after is not None:
        rows.append(("eval loss", f"{shown(before)} → {shown(after)}"))
    if train.get("best_step") is not None:
        kept = f"step {train['best_step']} (eval loss {shown(train.get('best_eval_loss'))})"
        rows.append(("adapter kept (load_best)", kept))
    pairs = [
        ("final train loss", train.get("final_train_loss")),
        ("optimizer steps", _steps_text(train)),
        ("epochs", train.get("epochs")),
        ("trained tokens", train.get("trained_tokens")),
        ("tokens/s", train.get("tokens_per_second")),
        ("processes", train.get("world_size")),
        ("sequences per update", train.get("sequences_per_update")),
        ("rows per process", _listed(train.get("rows_per_process"))),
        ("adapted modules", ", ".join(train.get("target_modules") or []) or None),
        ("train wall time (s)", train.get("wall_time_s")),
        ("decoder layers", "compiled (sft.compile)" if train.get("compiled") else None),
        ("peak RSS (MiB)", train.get("peak_rss_mb")),
        ("peak GPU memory (MiB)", train.get("peak_gpu_mb")),
    ]
    rows.extend((label, shown(value)) for label, value in pairs if value is not None)
    return rows


def _steps_text(train: dict[str, Any]) -> str | None:
    steps, resumed = train.get("steps"), train.get("resumed_from_step")
    if steps is None or resumed is None:
        return steps
    return f"{steps} (resumed from step {resumed})"


def data_rows(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of the data statistics: per source, then the whole path."""
    if not data:
        return []
    rows: list[tuple[str, str]] = []
    for source in data.get("sources", []):
        name = f"{source.get('name')} ({source.get('type')})"
        rows.append((f"{name}: rows read", shown(source.get("rows"))))
        for label, key in (
            ("skipped as malformed", "skipped_errors"),
            ("removed by filter", "filtered_out"),
            ("beyond limit", "beyond_limit"),
        ):
            if source.get(key):
                rows.append((f"{name}: {label}", shown(source[key])))
        rows.append((f"{name}: examples", shown(source.get("examples"))))
    streaming = data.get("streaming") or {}
    if streaming:
        rows.append(("streaming: examples read ahead for eval", shown(streaming["examples_read"])))
        rows.append(
            (
                "streaming: training rows sampled for these statistics",
                shown(streaming["train_sample_rows"]),
            )
        )
    chunking = data.get("chunking") or {}
    if chunking:
        rows.append(("texts chunked (of texts)", f"{chunking['chunked']} of {chunking['texts']}"))
        rows.append(("chunks", shown(chunking["chunks"])))
        rows.append(("leftovers merged / dropped", _pair(chunking, "leftovers")))
    keys = [
        ("examples", "examples"),
        ("duplicates removed", "duplicates_removed"),
        ("train rows", "train_rows"),
        ("eval rows", "eval_rows"),
        ("train tokens", "train_tokens"),
        ("eval tokens", "eval_tokens"),
        ("split (longer than max_length)", "split"),
        ("truncated (longer than max_length)", "truncated"),
        ("dropped (longer than max_length)", "dropped"),
        ("share of tokens carrying loss", "loss_token_share"),
    ]
    rows.extend((label, shown(data.get(key))) for label, key in keys if key in data)
    return rows


def _pair(values: dict[str, Any], prefix: str) -> str:
    return f"{values[prefix + '_merged']} / {values[prefix + '_dropped']}"


def skipped_lines(data: dict[str, Any] | None) -> list[str]:
    """The first malformed lines each source skipped, quoted."""
    return [
        line
        for source in (data or {}).get("sources", [])
        for line in source.get("skipped_examples", [])
    ]


def merge_line(merge: dict[str, Any] | None) -> str:
    """One sentence on the merge and its verification."""
    if not merge or not merge.get("enabled"):
        return "merge: disabled"
    saved = ""
    if merge.get("dtype"):
        saved = f"; saved in {merge['dtype']}"
        if merge.get("max_abs_diff_of_rounding") is not None:
            saved += f", rounding moved logits {shown(merge['max_abs_diff_of_rounding'])}"
    if merge.get("verified"):
        return (
            f"merge: verified (max |merged - adapter| {shown(merge.get('max_abs_diff_vs_adapter'))}"
            f" ≤ {shown(merge.get('tolerance'))}; max |merged - base| "
            f"{shown(merge.get('max_abs_diff_vs_base'))}{saved})"
        )
    return f"merge: not verified{saved}"


def _listed(values: list[Any] | None) -> str | None:
    """`12, 12` for a list of numbers; None for none."""
    return ", ".join(str(value) for value in values) if values else None
