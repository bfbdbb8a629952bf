"""`smolora serve RUN_DIR`: the tuned model of a finished run behind an OpenAI-compatible API.

Endpoints: `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (with
`stream: true` as server-sent events), so existing OpenAI clients work unchanged against
`http://127.0.0.1:PORT/v1`. One model, one generating thread: requests that arrive while it is
busy are queued and batched together (serve_batching.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smolora_recipes.inference.batching import Generator
from smolora_recipes.inference.finished_run import FinishedRun
from smolora_recipes.inference.generation import Completion, GenerationSettings

DEFAULT_MAX_TOKENS = 256


class RequestError(ValueError):
    """A request the API rejects with 400, naming the parameter."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def settings_from(body: dict[str, Any], seed: int) -> GenerationSettings:
    """Generation settings from an OpenAI request body (validated)."""
    limit = body.get("max_completion_tokens", body.get("max_tokens", DEFAULT_MAX_TOKENS))
    temperature = body.get("temperature", 0.0) or 0.0
    top_p = body.get("top_p", 1.0) or 1.0
    if not isinstance(limit, int) or limit < 1:
        raise RequestError("max_tokens must be a positive integer", "max_tokens")
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise RequestError("temperature must be a number from 0 to 2", "temperature")
    if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise RequestError("top_p must be a number in (0, 1]", "top_p")
    if body.get("n", 1) != 1:
        raise RequestError("only n = 1 is supported", "n")
    return GenerationSettings(
        max_new_tokens=limit,
        temperature=float(temperature),
        top_p=float(top_p),
        seed=int(body.get("seed", seed)),
    )


def prompt_texts(body: dict[str, Any], finished: FinishedRun, chat: bool) -> list[str]:
    """The model inputs a request asks for: the chat template applied to `messages`, or the
    raw `prompt` (a string or a list of strings)."""
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("messages must be a non-empty list", "messages")
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise RequestError("each message needs a role and a text content", "messages")
        from smolora_recipes.data.tokenize import render_chat

        clean = [{"role": m.get("role", "user"), "content": m["content"]} for m in messages]
        return [render_chat(finished.tokenizer, clean, generation=True, tokenize=False)]
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise RequestError("prompt must be a string or a list of strings", "prompt")
    return prompts  # completions are raw text, as in the OpenAI API


def completion_body(completions: list[Completion], model: str, chat: bool) -> dict[str, Any]:
    """The OpenAI response object for finished completions."""
    choices = [
        {
            "index": index,
            **(
                {"message": {"role": "assistant", "content": done.text}}
                if chat
                else {"text": done.text}
            ),
            "finish_reason": _finish_reason(done),
            **({} if chat else {"logprobs": None}),
        }
        for index, done in enumerate(completions)
    ]
    prompt = sum(done.prompt_tokens for done in completions)
    generated = sum(done.completion_tokens for done in completions)
    return {
        "id": _response_id(chat),
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
        },
    }


@dataclass
class ServedModel:
    """What the server answers with: the finished run's model, its name, the default seed."""

    finished: FinishedRun
    generator: Generator
    name: str
    seed: int


class OpenAIHandler(BaseHTTPRequestHandler):
    """One request to the OpenAI endpoints, answered from the server's `ServedModel`."""

    server_version = "smolora"
    protocol_version = "HTTP/1.1"

    @property
    def served(self) -> ServedModel:
        """The model this handler's server serves."""
        return self.server.served  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        return  # no line per request on stderr

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.served.name, "object": "model", "owned_by": "smolora", "created": 0}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no such endpoint: GET {self.path}", "not_found")

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        if path not in ("/v1/completions", "/v1/chat/completions"):
            self._error(404, f"no such endpoint: POST {self.path}", "not_found")
            return
        chat, served = path.endswith("chat/completions"), self.served
        try:
            body = self._json_body()
            texts = prompt_texts(body, served.finished, chat)
            settings = settings_from(body, served.seed)
            if body.get("stream"):
                if len(texts) != 1:
                    raise RequestError("stream needs a single prompt", "prompt")
                self._stream(*served.generator.stream(texts[0], settings), chat)
                return
            completions = served.generator.answer(texts, settings)
        except RequestError as error:
            self._error(400, str(error), "invalid_request_error", error.param)
            return
        self._send(200, completion_body(completions, served.name, chat))

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as error:
            raise RequestError(f"the body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        return body

    def _stream(self, pieces: Iterator[str], done: Future[list[Completion]], chat: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        event = _chunk_maker(_response_id(chat), self.served.name, chat)
        if chat:
            self._event(event({"role": "assistant", "content": ""}, None))
        for piece in pieces:
            if piece:
                self._event(event({"content": piece} if chat else piece, None))
        self._event(event({} if chat else "", _finish_reason(done.result()[0])))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _send(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, kind: str, param: str | None = None) -> None:
        error = {"message": message, "type": kind, "param": param, "code": None}
        self._send(status, {"error": error})


def make_server(
    finished: FinishedRun, model_name: str, host: str, port: int, batch_size: int, seed: int = 0
) -> ThreadingHTTPServer:
    """An HTTP server answering the OpenAI endpoints with `finished`'s model (not started)."""
    generator = Generator(finished, batch_size)
    server = ThreadingHTTPServer((host, port), OpenAIHandler)
    server.daemon_threads = True
    server.served = ServedModel(finished, generator, model_name, seed)  # type: ignore[attr-defined]
    return server


def _response_id(chat: bool) -> str:
    """A new response id in OpenAI's form (`chatcmpl-...` or `cmpl-...`)."""
    return f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"


def _finish_reason(done: Completion) -> str:
    """OpenAI's `finish_reason`: `stop` at the end-of-sequence token, else `length`."""
    return "stop" if done.stopped else "length"


def _chunk_maker(ident: str, model: str, chat: bool) -> Callable[[Any, str | None], dict]:
    """A function building one streamed chunk (chat delta or completion text)."""
    created = int(time.time())

    def chunk(content: Any, finish: str | None) -> dict[str, Any]:
        choice = (
            {"index": 0, "delta": content, "finish_reason": finish}
            if chat
            else {"index": 0, "text": content, "finish_reason": finish, "logprobs": None}
        )
        return {
            "id": ident,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    return chunk
