"""Prompt formatting and batched or streamed generation, shared by `sample` and `generate`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GenerationSettings:
    """How to generate: length, sampling, batching and seed."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 8
    seed: int = 0


def format_prompt(
    tokenizer: Any,
    prompt: str,
    chat: bool,
    system_prompt: str | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    """The text the model sees: the chat template with a generation prompt (after the
    recipe's `data.system_prompt`, when it sets one, and offering `tools`), or the raw prompt."""
    if not chat:
        return prompt
    return chat_prompt(tokenizer, [{"role": "user", "content": prompt}], system_prompt, tools)


def chat_prompt(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    system_prompt: str | None,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    """`messages` in the chat template with a generation prompt, led by the run's
    `data.system_prompt` when they have no system message: as the model saw them in training."""
    from smolora_recipes.data.chat_tokens import render_chat
    from smolora_recipes.data.conversations import with_system_prompt

    messages = with_system_prompt(messages, system_prompt)
    return render_chat(tokenizer, messages, generation=True, tokenize=False, tools=tools)


def _generate_kwargs(tokenizer: Any, settings: GenerationSettings) -> dict[str, Any]:
    sampling = settings.temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": sampling,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if sampling:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    else:  # greedy: silence sampling defaults a generation_config may carry
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs


@dataclass(frozen=True)
class Completion:
    """One prompt's answer and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    stopped: bool  # ended at the end-of-sequence token, not at max_new_tokens


def complete(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    settings: GenerationSettings,
    progress: str | None = None,
) -> list[Completion]:
    """Generate for every text, in length-sorted left-padded batches; answers in input order.
    With `progress`, a terminal shows a bar of that name over the prompts (a log, none)."""
    import torch
    from tqdm.auto import tqdm
    from transformers import set_seed

    set_seed(settings.seed)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    done: list[Completion | None] = [None] * len(texts)
    hidden = True if progress is None else None  # None: shown only where stderr is a terminal
    bar = tqdm(total=len(texts), desc=progress, unit="prompt", leave=False, disable=hidden)
    for start in range(0, len(order), settings.batch_size):
        chunk = order[start : start + settings.batch_size]
        batch = tokenizer(
            [texts[i] for i in chunk],
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,
        ).to(model.device)
        with torch.no_grad():
            result = model.generate(**batch, **_generate_kwargs(tokenizer, settings))
        width = batch["input_ids"].shape[1]
        for row, index in enumerate(chunk):
            new_tokens = result[row, width:].tolist()
            length, stopped = _answer_length(new_tokens, tokenizer.eos_token_id)
            done[index] = Completion(
                text=tokenizer.decode(new_tokens[:length], skip_special_tokens=True).strip(),
                prompt_tokens=int(batch["attention_mask"][row].sum()),
                completion_tokens=length,
                stopped=stopped,
            )
        bar.update(len(chunk))
    bar.close()
    return [completion for completion in done if completion is not None]


def _answer_length(tokens: list[int], eos: int | list[int] | None) -> tuple[int, bool]:
    """Tokens up to and including the first end-of-sequence token; whether there was one."""
    ends = set(eos) if isinstance(eos, list) else {eos}
    for position, token in enumerate(tokens):
        if token in ends:
            return position + 1, True
    return len(tokens), False


def generate_batch(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    settings: GenerationSettings,
    progress: str | None = None,
) -> tuple[list[str], int]:
    """Generate for every text in batches; the answers in input order and the tokens generated
    (`progress`: see `complete`)."""
    done = complete(model, tokenizer, texts, settings, progress)
    return [c.text for c in done], sum(c.completion_tokens for c in done)


def stream(
    model: Any, tokenizer: Any, text: str, settings: GenerationSettings, emit: Callable[[str], None]
) -> Completion:
    """Generate for one text, calling `emit` with each piece of text as soon as it decodes."""
    from threading import Thread

    from transformers import TextIteratorStreamer, set_seed

    set_seed(settings.seed)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = {**inputs, **_generate_kwargs(tokenizer, settings), "streamer": streamer}
    output: list[Any] = []
    worker = Thread(target=lambda: output.append(model.generate(**kwargs)), daemon=True)
    worker.start()
    pieces = []
    for piece in streamer:
        pieces.append(piece)
        emit(piece)
    worker.join()
    prompt = inputs["input_ids"].shape[1]
    new_tokens = output[0][0, prompt:].tolist() if output else []
    length, stopped = _answer_length(new_tokens, tokenizer.eos_token_id)
    return Completion("".join(pieces), prompt, length, stopped)
