"""A conversation -> token ids and the loss mask of its assistant turns, with any chat template.

The mask never relies on `{% generation %}` markers (most hub templates have none): assistant
turn i spans from the end of the rendered conversation before it, generation prompt included,
to the end of the conversation through it (less closing tokens a template writes only at the
very end), so the turn's text, its tool calls and its end-of-turn tokens carry loss, and
system, user and tool turns never do. A template that renders a conversation differently from
its own beginning cannot be measured so, and is refused. Reasoning (`reasoning_content`)
goes to templates that read it, and is written as a `<think>` block at the start of the turn
for those that do not; `train_on_reasoning: false` takes the loss off its tokens.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Template

from smolora_recipes.core.chat_sandbox import chat_sandbox
from smolora_recipes.core.errors import Problem, UserInputError
from smolora_recipes.data.long_text import encode, token_ids

REASONING = "reasoning_content"
PROBE = "\u2591\u2592"  # text no conversation holds: what changes with it is the turn
OTHER_PROBE = "\u2593"


def render_chat(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    generation: bool,
    tokenize: bool,
    tools: list[dict[str, Any]] | None = None,
) -> Any:
    """The tokenizer's chat template (the recipe's `data.chat_template` when it sets one, see
    `runtime.load_tokenizer`) applied to `messages` in the bounded chat sandbox: the text, or
    its token ids (no special tokens added: the template writes them), as transformers'
    `apply_chat_template` would give them."""
    text = _compiled_chat_template(tokenizer.get_chat_template()).render(
        messages=messages,
        tools=tools or None,
        documents=None,
        add_generation_prompt=generation,
        **tokenizer.special_tokens_map,
    )
    return token_ids(tokenizer, text, special_tokens=False) if tokenize else text


@functools.lru_cache(maxsize=8)
def _compiled_chat_template(source: str) -> Template:
    """A chat template compiled once (the dataset step renders it for every conversation)."""
    return chat_sandbox().from_string(source)


def for_template(messages: list[dict[str, Any]], template: str) -> list[dict[str, Any]]:
    """`messages` as `template` can show them: reasoning kept for a template that reads
    `reasoning_content`, else written into the turn's text as a `<think>` block."""
    if REASONING in template or not any(REASONING in message for message in messages):
        return messages
    shown = []
    for message in messages:
        if REASONING in message:
            message = dict(message)
            reasoning = message.pop(REASONING)
            message["content"] = f"<think>\n{reasoning}\n</think>\n\n{message['content']}"
        shown.append(message)
    return shown


def chat_tokens(
    messages: list[dict[str, Any]],
    tokenizer: Any,
    train_on: str,
    tools: list[dict[str, Any]] | None = None,
    train_on_reasoning: bool = True,
) -> tuple[list[int], list[int]]:
    """Token ids of a conversation and its loss mask."""
    shown = for_template(messages, tokenizer.get_chat_template())
    text = render_chat(tokenizer, shown, generation=False, tokenize=False, tools=tools)
    unmask = not train_on_reasoning and any(REASONING in message for message in messages)
    if unmask:
        full, offsets = _with_offsets(tokenizer, text)
    else:
        full = token_ids(tokenizer, text, special_tokens=False)
    mask = [1] * len(full) if train_on == "all" else _assistant_mask(shown, full, tokenizer, tools)
    if unmask:
        _unmask_reasoning(messages, shown, text, offsets, mask, tokenizer, tools)
    return full, mask


def _assistant_mask(
    messages: list[dict[str, Any]], full: list[int], tokenizer: Any, tools: Any
) -> list[int]:
    """1 on every token of an assistant turn (from its generation prompt on), 0 elsewhere."""
    mask = [0] * len(full)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _prefix(tokenizer, messages, index, tools) if index else []
        through = render_chat(tokenizer, messages[: index + 1], False, True, tools)
        end = _turn_end(full, through)
        if full[: len(before)] == before and end is not None and end > len(before):
            span: tuple[int, int] | None = len(before), end
        else:  # e.g. Mistral writes the system message beside the last user turn
            span = _changed_span(messages, index, full, tokenizer, tools)
        if span is None:
            raise UserInputError(
                Problem(
                    "the chat template renders a conversation differently from its beginning, "
                    "so assistant turns cannot be located for the loss mask",
                    field="data.train_on",
                    hint="set `data.train_on: all`, or use a chat template that is "
                    "prefix-consistent (ChatML templates are)",
                )
            )
        for position in range(*span):
            mask[position] = 1
    return mask


def _changed_span(
    messages: list[dict[str, Any]], index: int, full: list[int], tokenizer: Any, tools: Any
) -> tuple[int, int] | None:
    """Where turn `index` lies in the whole conversation, found as what changes when only that
    turn's text (and tool calls) change, followed by the template's end-of-turn tokens; for
    templates that render a turn's beginning by what comes after it."""
    probed = [*messages[:index], {"role": "assistant", "content": PROBE}, *messages[index + 1 :]]
    other = render_chat(tokenizer, probed, False, True, tools)
    start = _common_prefix(full, other)
    end = len(full) - _common_prefix(full[start:][::-1], other[start:][::-1])
    if end <= start:
        return None
    closing = _turn_closing(tokenizer)
    if full[end : end + len(closing)] == closing:
        end += len(closing)
    return start, end


def _turn_closing(tokenizer: Any) -> list[int]:
    """The tokens a template writes after an assistant turn's text (`</s>`, `<|im_end|>\n`)."""
    return list(_closing_of(tokenizer.get_chat_template(), tokenizer))


@functools.lru_cache(maxsize=8)
def _closing_of(template: str, tokenizer: Any) -> tuple[int, ...]:
    """`_turn_closing` for one template, worked out once (it is the same for every turn)."""

    def rendered(text: str) -> list[int]:
        turns = [{"role": "user", "content": PROBE}, {"role": "assistant", "content": text}]
        return render_chat(tokenizer, turns, False, True)

    one, other = rendered(PROBE), rendered(OTHER_PROBE)  # no character in common
    return tuple(one[len(one) - _common_prefix(one[::-1], other[::-1]) :])


def _common_prefix(first: list[int], second: list[int]) -> int:
    """How many leading tokens two renderings share."""
    shared = 0
    for mine, theirs in zip(first, second, strict=False):
        if mine != theirs:
            break
        shared += 1
    return shared


def _turn_end(full: list[int], through: list[int]) -> int | None:
    """Where the conversation rendered through a turn ends inside the whole one: all of it, or
    all but the closing tokens some templates write only at a conversation's end (Phi-3's
    eos), which the whole conversation then ends with too."""
    if full[: len(through)] == through:
        return len(through)
    common = _common_prefix(full, through)
    closing = through[common:]
    return common if full[len(full) - len(closing) :] == closing else None


def _prefix(tokenizer: Any, messages: list[dict[str, Any]], index: int, tools: Any) -> list[int]:
    """The tokens of the conversation before turn `index`, with the generation prompt."""
    return render_chat(tokenizer, messages[:index], generation=True, tokenize=True, tools=tools)


def _with_offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character offsets of a rendered conversation (a fast tokenizer)."""
    if not getattr(tokenizer, "is_fast", False):
        raise UserInputError(
            Problem(
                "data.train_on_reasoning is false, which needs a fast tokenizer (character "
                "offsets) to find the reasoning's tokens",
                field="data.train_on_reasoning",
                hint="use a model with a fast (tokenizers) tokenizer, or train on reasoning",
            )
        )
    ids, offsets = encode(tokenizer, text)
    return list(ids), [tuple(pair) for pair in offsets]


def _unmask_reasoning(
    messages: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    text: str,
    offsets: list[tuple[int, int]],
    mask: list[int],
    tokenizer: Any,
    tools: Any,
) -> None:
    """Set the mask to 0 on the tokens of each assistant turn's reasoning text."""
    for index, message in enumerate(messages):
        reasoning = (message.get(REASONING) or "").strip()
        if not reasoning:
            continue
        start = len(render_chat(tokenizer, shown[:index], True, False, tools)) if index else 0
        found = text.find(reasoning, start)
        if found < 0:
            raise UserInputError(
                Problem(
                    f"the chat template does not write message {index}'s reasoning as given, "
                    "so its tokens cannot be kept out of the loss",
                    field="data.train_on_reasoning",
                    hint="set `data.train_on_reasoning: true`, or use a template that writes "
                    "`reasoning_content` verbatim",
                )
            )
        end = found + len(reasoning)
        for position, (first, last) in enumerate(offsets):
            if first < end and last > found:
                mask[position] = 0
