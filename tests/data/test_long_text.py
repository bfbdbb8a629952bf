"""A long text is tokenized window by window into exactly the ids of one whole call, and no
call to the tokenizer sees more than a window."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data import long_text
from smolora_recipes.data.long_text import batch_token_ids, encode, token_ids

WINDOW, CUT, CONTEXT = 3000, 600, 300


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_text, "WINDOW_CHARS", WINDOW)
    monkeypatch.setattr(long_text, "CUT_CHARS", CUT)
    monkeypatch.setattr(long_text, "CONTEXT_CHARS", CONTEXT)


def mixed_text(seed: int, words: int) -> str:
    pieces = ["alpha", "déjà", "🙂", "x=1;", "\n", "\n\n", "  ", "Hello,", "1234567", "z" * 400]
    rng = random.Random(seed)
    return " ".join(rng.choice(pieces) for _ in range(words))


class CallSizes:
    """A tokenizer wrapper recording the longest text each call got."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer, self.longest = tokenizer, 0
        self.is_fast = tokenizer.is_fast

    def __call__(self, text: str | list[str], **options: Any) -> Any:
        texts = [text] if isinstance(text, str) else text
        self.longest = max([self.longest, *map(len, texts)])
        return self.tokenizer(text, **options)


@pytest.mark.parametrize("seed", range(4))
def test_windows_give_the_ids_of_one_call(tokenizer: Any, seed: int) -> None:
    text = mixed_text(seed, 3000)
    spy = CallSizes(tokenizer)
    assert (
        token_ids(spy, text, special_tokens=False)
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    assert len(text) > 10 * WINDOW and spy.longest == WINDOW


def test_special_tokens_go_around_the_whole_text(tokenizer: Any) -> None:
    from tokenizers.processors import TemplateProcessing

    marked = copy.deepcopy(tokenizer)
    bos, eos = marked.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    marked.backend_tokenizer.post_processor = TemplateProcessing(
        single="<|im_start|> $A <|im_end|>",
        special_tokens=[("<|im_start|>", bos), ("<|im_end|>", eos)],
    )
    text = mixed_text(7, 2000)
    ids = token_ids(marked, text, special_tokens=True)
    assert ids == marked(text)["input_ids"] and ids[0] == bos and ids[-1] == eos
    assert ids.count(bos) == 1


def sentencepiece_like(text: str) -> Any:
    """A small BPE with a word marker before each word (Llama 2, Mistral): a cut inside a word
    would give the next window a marker the whole text does not have."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Metaspace
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(BPE(unk_token="[UNK]"))
    core.pre_tokenizer = Metaspace(prepend_scheme="first")
    core.train_from_iterator([text[:5000]], BpeTrainer(vocab_size=34, special_tokens=["[UNK]"]))
    return PreTrainedTokenizerFast(tokenizer_object=core)


def test_a_word_marking_tokenizer_is_cut_between_words() -> None:
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    text = " ".join(rng.choice(words) + rng.choice(["", ".", ",\n"]) for _ in range(8000))
    tokenizer = sentencepiece_like(text)
    spy = CallSizes(tokenizer)
    assert token_ids(spy, text, False) == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert spy.longest == WINDOW


def test_a_tokenizer_whose_tokens_depend_on_the_start_is_encoded_whole(tokenizer: Any) -> None:
    from tokenizers.pre_tokenizers import Metaspace

    prefixed = copy.deepcopy(tokenizer)  # every input starts with a word marker: no cut is clean
    prefixed.backend_tokenizer.pre_tokenizer = Metaspace(prepend_scheme="always", split=False)
    text = "".join(random.Random(3).choice("ab\n") for _ in range(4 * WINDOW))
    spy = CallSizes(prefixed)
    assert token_ids(spy, text, False) == prefixed(text, add_special_tokens=False)["input_ids"]
    assert spy.longest == len(text)


def test_a_batch_keeps_its_order_with_long_and_short_texts(tokenizer: Any) -> None:
    texts = ["short one", mixed_text(1, 2000), "", "another short", mixed_text(2, 1500)]
    expected = [tokenizer(text)["input_ids"] for text in texts]
    assert batch_token_ids(tokenizer, texts, special_tokens=True) == expected


def test_offsets_of_a_long_text_are_those_of_one_call(tokenizer: Any) -> None:
    """Token chunking cuts the text at these offsets."""
    text = mixed_text(5, 2500)
    whole = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spy = CallSizes(tokenizer)
    ids, offsets = encode(spy, text)
    assert ids == whole["input_ids"] and offsets == [
        tuple(pair) for pair in whole["offset_mapping"]
    ]
    assert spy.longest == WINDOW
