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


def format_prompt(tokenizer: Any, prompt: str, chat: bool) -> str:
    """The text the model sees: the chat template with a generation prompt, or the raw prompt."""
    if not chat:
        return prompt
    from smolora_recipes.data.tokenize import render_chat

    messages = [{"role": "user", "content": prompt}]
    return render_chat(tokenizer, messages, generation=True, tokenize=False)


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


def generate_batch(
    model: Any, tokenizer: Any, texts: Sequence[str], settings: GenerationSettings
) -> tuple[list[str], int]:
    """Generate for every text, in length-sorted left-padded batches; return outputs and tokens."""
    import torch
    from transformers import set_seed

    set_seed(settings.seed)
    tokenizer.padding_side = "left"
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    outputs: list[str] = [""] * len(texts)
    generated = 0
    for start in range(0, len(order), settings.batch_size):
        chunk = order[start : start + settings.batch_size]
        batch = tokenizer(
            [texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(model.device)
        with torch.no_grad():
            result = model.generate(**batch, **_generate_kwargs(tokenizer, settings))
        new_tokens = result[:, batch["input_ids"].shape[1] :]
        generated += int((new_tokens != tokenizer.pad_token_id).sum())
        for index, text in zip(
            chunk, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True
        ):
            outputs[index] = text.strip()
    return outputs, generated


def stream(
    model: Any, tokenizer: Any, text: str, settings: GenerationSettings, emit: Callable[[str], None]
) -> str:
    """Generate for one text, calling `emit` with each piece of text as soon as it decodes."""
    from threading import Thread

    from transformers import TextIteratorStreamer, set_seed

    set_seed(settings.seed)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = {**inputs, **_generate_kwargs(tokenizer, settings), "streamer": streamer}
    worker = Thread(target=model.generate, kwargs=kwargs, daemon=True)
    worker.start()
    pieces = []
    for piece in streamer:
        pieces.append(piece)
        emit(piece)
    worker.join()
    return "".join(pieces)
