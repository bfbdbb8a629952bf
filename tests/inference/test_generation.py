"""`stream` hands each piece of text on while the model is still generating."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from smolora_recipes.inference.generation import GenerationSettings, stream
from smolora_recipes.models.runtime import load_tokenizer

WORDS = [" one", " two", " three", " four"]


class LockstepModel:
    """A stand-in for a model's `generate`: it produces the next token only after the previous
    piece of text reached the caller, so it can finish only if `stream` relays pieces as they
    come (a `stream` that waited for the end would time out here)."""

    device = "cpu"

    def __init__(self, tokenizer: Any) -> None:
        self.tokens = [tokenizer(word, add_special_tokens=False)["input_ids"] for word in WORDS]
        self.relayed = threading.Semaphore(0)
        self.waits: list[bool] = []

    def generate(self, input_ids: Any, streamer: Any, **kwargs: Any) -> Any:
        import torch

        streamer.put(input_ids)  # the prompt, which the streamer skips
        for index, ids in enumerate(self.tokens):
            streamer.put(torch.tensor([ids]))
            if index:  # a piece is released once the next word starts
                self.waits.append(self.relayed.acquire(timeout=30))
        streamer.end()
        new = torch.tensor([[token for ids in self.tokens for token in ids]])
        return torch.cat([input_ids, new], dim=1)


def test_pieces_reach_the_caller_while_generation_runs(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir, False)
    model = LockstepModel(tokenizer)
    pieces: list[str] = []

    def emit(piece: str) -> None:
        pieces.append(piece)
        model.relayed.release()

    done = stream(model, tokenizer, "Count:", GenerationSettings(max_new_tokens=8), emit)
    assert model.waits == [True] * (len(WORDS) - 1)  # each word was relayed before the next
    assert "".join(pieces) == done.text == "".join(WORDS)
    assert done.completion_tokens == sum(len(ids) for ids in model.tokens)
