"""What `smolora serve` accepts in an OpenAI request body, checked before anything is queued: a
bad request gets a 400 naming the parameter and never reaches the generating thread, so it
cannot fail the requests batched with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from smolora_recipes.inference.finished_run import FinishedRun
from smolora_recipes.inference.generation import GenerationSettings, chat_prompt

DEFAULT_MAX_TOKENS = 256
MAX_PROMPTS = 64  # prompts in one completions request
MAX_STOP_STRINGS = 4  # as the OpenAI API allows
ROLES = ("system", "user", "assistant")
# what each endpoint reads; any other parameter is refused, never silently ignored
_COMMON = ("model", "max_tokens", "temperature", "top_p", "n", "stream", "stop", "seed", "user")
SUPPORTED = {
    True: frozenset((*_COMMON, "messages", "max_completion_tokens")),
    False: frozenset((*_COMMON, "prompt")),
}


class RequestError(ValueError):
    """A request the API rejects, naming the parameter (400 unless said otherwise)."""

    def __init__(
        self, message: str, param: str | None = None, status: int = 400, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.code = code


@dataclass
class Request:
    """A checked request: the model inputs, how to generate, and where to stop."""

    texts: list[str]
    settings: GenerationSettings
    stream: bool = False
    stop: list[str] = field(default_factory=list)


def parse_request(
    body: dict[str, Any], finished: FinishedRun, chat: bool, seed: int, model: str
) -> Request:
    """The request a body asks for, every parameter checked; the prompt must leave room in
    the model's context for the tokens asked for."""
    unsupported = sorted(k for k, v in body.items() if k not in SUPPORTED[chat] and v is not None)
    if unsupported:
        raise RequestError(
            f"{unsupported[0]} is not supported by smolora serve (it reads "
            f"{', '.join(sorted(SUPPORTED[chat]))})",
            unsupported[0],
        )
    asked = body.get("model")
    if asked is not None and asked != model:
        raise RequestError(
            f"The model `{asked}` does not exist; this server serves `{model}`",
            "model",
            404,
            "model_not_found",
        )
    texts = prompt_texts(body, finished, chat)
    settings = settings_from(body, seed)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError("stream must be true or false", "stream")
    if stream and len(texts) != 1:
        raise RequestError("stream needs a single prompt", "prompt")
    stop = stop_strings(body.get("stop"))
    check_context(texts, settings.max_new_tokens, finished)
    return Request(texts, settings, stream, stop)


def settings_from(body: dict[str, Any], seed: int) -> GenerationSettings:
    """Generation settings from an OpenAI request body (validated; a boolean is no number)."""
    limit = body.get("max_completion_tokens", body.get("max_tokens", DEFAULT_MAX_TOKENS))
    temperature = _or_default(body.get("temperature"), 0.0)
    top_p = _or_default(body.get("top_p"), 1.0)
    chosen_seed = _or_default(body.get("seed"), seed)
    if not _is_int(limit) or limit < 1:
        raise RequestError("max_tokens must be a positive integer", "max_tokens")
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise RequestError("temperature must be a number from 0 to 2", "temperature")
    if not _is_number(top_p) or not 0 < top_p <= 1:
        raise RequestError("top_p must be a number in (0, 1]", "top_p")
    if not _is_int(chosen_seed):
        raise RequestError("seed must be an integer", "seed")
    n = body.get("n", 1)
    if not _is_int(n) or n != 1:
        raise RequestError("only n = 1 is supported", "n")
    return GenerationSettings(
        max_new_tokens=limit,
        temperature=float(temperature) or 0.0,
        top_p=float(top_p),
        seed=chosen_seed,
    )


def prompt_texts(body: dict[str, Any], finished: FinishedRun, chat: bool) -> list[str]:
    """The model inputs a request asks for: the chat template applied to `messages` (led by
    the run's system prompt when they have none), or the raw `prompt` (a string or a list of
    strings)."""
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("messages must be a non-empty list", "messages")
        clean = [_message(message) for message in messages]
        return [chat_prompt(finished.tokenizer, clean, finished.system_prompt)]
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise RequestError("prompt must be a string or a list of strings", "prompt")
    if len(prompts) > MAX_PROMPTS:
        raise RequestError(f"at most {MAX_PROMPTS} prompts in one request", "prompt")
    for text in prompts:
        if not text:
            raise RequestError("a prompt must not be empty", "prompt")
        _check_text(text, "prompt")
    return prompts  # completions are raw text, as in the OpenAI API


def stop_strings(stop: Any) -> list[str]:
    """`stop` as a list: absent, one string, or up to four non-empty strings."""
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    valid = isinstance(stops, list) and all(isinstance(s, str) and s for s in stops)
    if not valid or len(stops) > MAX_STOP_STRINGS:
        raise RequestError(
            f"stop must be a string or a list of up to {MAX_STOP_STRINGS} non-empty strings",
            "stop",
        )
    for text in stops:
        _check_text(text, "stop")
    return stops


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """`text` up to the first stop string, and whether one was found."""
    cuts = [index for index in (text.find(s) for s in stop) if index >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class StopCutter:
    """Streamed pieces cut at the first stop string: text that may begin one is held back
    until it is known not to; `found` tells afterwards whether a stop string ended it."""

    def __init__(self, stop: list[str]) -> None:
        self.stop = stop
        self.hold = max(map(len, stop), default=1) - 1
        self.found = False

    def pieces(self, pieces: Iterator[str]) -> Iterator[str]:
        """The text to send, piece by piece; the rest of `pieces` is consumed, unsent."""
        held = ""
        for piece in pieces:
            if self.found:
                continue  # generation goes on; its text is not sent
            held += piece
            text, self.found = cut_at_stop(held, self.stop)
            if self.found:
                held = ""
                if text:
                    yield text
            elif len(held) > self.hold:
                ready = len(held) - self.hold
                yield held[:ready]
                held = held[ready:]
        if held:
            yield held


def check_context(texts: list[str], max_tokens: int, finished: FinishedRun) -> None:
    """Refuse prompts that, with `max_tokens` more, do not fit the model's context."""
    context = context_length(finished)
    if context is None:
        return
    if max_tokens >= context:
        raise RequestError(
            f"max_tokens is {max_tokens}, but the model's context is {context} tokens",
            "max_tokens",
        )
    for text in texts:
        used = len(finished.tokenizer(text, add_special_tokens=False)["input_ids"])
        if used + max_tokens > context:
            raise RequestError(
                f"the prompt is {used} tokens; with max_tokens {max_tokens} that is more than "
                f"the model's context of {context} tokens",
                "messages" if len(texts) == 1 else "prompt",
            )


def context_length(finished: FinishedRun) -> int | None:
    """The model's context window in tokens, where its configuration says."""
    config = getattr(finished.model, "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return value if _is_int(value) and value > 0 else None


def _message(message: Any) -> dict[str, str]:
    """A chat message reduced to role and text content (a string, or a list of text parts,
    joined by line breaks), checked."""
    if not isinstance(message, dict):
        raise RequestError("each message needs a role and a text content", "messages")
    content = _text_content(message.get("content"))
    role = message.get("role", "user")
    if role not in ROLES:
        raise RequestError(
            f"a message's role is one of {', '.join(ROLES)}; got {role!r}", "messages"
        )
    _check_text(content, "messages")
    return {"role": role, "content": content}


def _text_content(content: Any) -> str:
    """A message's text: a string, or OpenAI's `[{"type": "text", "text": ...}]` parts."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) and content else None
    if parts is None or not all(isinstance(part, dict) for part in parts):
        raise RequestError("each message needs a role and a text content", "messages")
    for part in parts:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise RequestError(
                f"only text content parts are supported; got type {part.get('type')!r}",
                "messages",
            )
    return "\n".join(part["text"] for part in parts)


def _check_text(text: str, param: str) -> None:
    """Refuse text that is not Unicode (a lone surrogate, which JSON escapes can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(
            "the text holds a lone surrogate (\\ud800-\\udfff), which is not a character", param
        ) from None


def _or_default(value: Any, default: Any) -> Any:
    """An OpenAI parameter given as null means its default."""
    return default if value is None else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
