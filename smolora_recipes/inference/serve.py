"""`smolora serve RUN_DIR`: the tuned model of a finished run behind an OpenAI-compatible API.

Endpoints: `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (with
`stream: true` as server-sent events), so existing OpenAI clients work unchanged against
`http://127.0.0.1:PORT/v1`. One model, one generating thread: requests that arrive while it is
busy are queued and batched together (batching.py). Every request gets an HTTP answer, errors
in OpenAI's shape: a body over `MAX_BODY_BYTES` 413, a bad parameter 400 (requests.py), a full
queue 429, anything unexpected 500.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smolora_recipes.inference.batching import Generator, QueueFull
from smolora_recipes.inference.finished_run import FinishedRun
from smolora_recipes.inference.generation import Completion
from smolora_recipes.inference.requests import (
    RequestError,
    StopCutter,
    cut_at_stop,
    parse_request,
)

MAX_BODY_BYTES = 1_000_000  # a request body; prompts are text, not data uploads
MAX_QUEUED = 64  # requests waiting for the generating thread; beyond it: 429
READ_TIMEOUT_S = 30  # a client that sends its request slower than this is dropped
LISTEN_BACKLOG = 128  # connections the kernel queues before accept: 50 clients at once fit
GRACE_SECONDS = 30  # on SIGTERM, how long requests in progress may take to finish


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


class InFlight:
    """Counts requests being answered, so a stopping server can let them finish."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait_idle(self, seconds: float) -> bool:
        """Wait until no request is in progress (at most `seconds`); True if none is."""
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout=seconds)


@dataclass
class ServedModel:
    """What the server answers with: the finished run's model, its name, the default seed,
    and the requests in progress."""

    finished: FinishedRun
    generator: Generator
    name: str
    seed: int
    in_flight: InFlight = field(default_factory=InFlight)


class OpenAIHandler(BaseHTTPRequestHandler):
    """One request to the OpenAI endpoints, answered from the server's `ServedModel`."""

    server_version = "smolora"
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S

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
        with served.in_flight:
            try:
                body = self._json_body()
                request = parse_request(body, served.finished, chat, served.seed, served.name)
                if request.stream:
                    pieces, done = served.generator.stream(request.texts[0], request.settings)
                    self._stream(pieces, done, chat, StopCutter(request.stop))
                    return
                completions = served.generator.answer(request.texts, request.settings)
            except RequestError as error:
                kind = "invalid_request_error"
                self._error(error.status, str(error), kind, error.param, error.code)
                return
            except QueueFull:
                self._error(429, "the server is busy; retry shortly", "rate_limit_exceeded")
                return
            except Exception as error:  # an answer, never a dropped connection
                self._error(500, f"{type(error).__name__}: {error}", "server_error")
                return
            if request.stop:
                completions = [_stopped(done, request.stop) for done in completions]
            self._send(200, completion_body(completions, served.name, chat))

    def _json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; its declared length is checked before reading."""
        declared = self.headers.get("Content-Length")
        if declared is None or not declared.strip().isdecimal():
            self.close_connection = True  # the body cannot be skipped: end the connection
            raise RequestError("Content-Length must be a number of bytes", "Content-Length", 411)
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(
                f"the body is {length} bytes; at most {MAX_BODY_BYTES} are accepted", None, 413
            )
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except RecursionError:
            raise RequestError("the body is nested too deeply") from None
        except ValueError as error:
            raise RequestError(f"the body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        return body

    def _stream(
        self, pieces: Iterator[str], done: Future[list[Completion]], chat: bool, cut: StopCutter
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        event = _chunk_maker(_response_id(chat), self.served.name, chat)
        if chat:
            self._event(event({"role": "assistant", "content": ""}, None))
        for piece in cut.pieces(pieces):
            if piece:
                self._event(event({"content": piece} if chat else piece, None))
        finished = done.result()[0]
        reason = "stop" if cut.found else _finish_reason(finished)
        self._event(event({} if chat else "", reason))
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

    def _error(
        self,
        status: int,
        message: str,
        kind: str,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        error = {"message": message, "type": kind, "param": param, "code": code}
        self._send(status, {"error": error})


def make_server(
    finished: FinishedRun, model_name: str, host: str, port: int, batch_size: int, seed: int = 0
) -> ThreadingHTTPServer:
    """An HTTP server answering the OpenAI endpoints with `finished`'s model (not started)."""
    generator = Generator(finished, batch_size, MAX_QUEUED)
    server = _Server((host, port), OpenAIHandler)
    server.daemon_threads = True
    server.served = ServedModel(finished, generator, model_name, seed)  # type: ignore[attr-defined]
    return server


def serve_until_stopped(server: ThreadingHTTPServer, grace_seconds: float = GRACE_SECONDS) -> bool:
    """Serve until SIGTERM or Ctrl-C, then stop taking requests and let those in progress
    finish (at most `grace_seconds`); True when none was cut off."""

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # not from this thread

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    finished = server.served.in_flight.wait_idle(grace_seconds)  # type: ignore[attr-defined]
    server.server_close()
    return finished


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a listen backlog for bursts of clients."""

    request_queue_size = LISTEN_BACKLOG


def _stopped(done: Completion, stop: list[str]) -> Completion:
    """A completion cut at its first stop string (then it ended by `stop`)."""
    text, found = cut_at_stop(done.text, stop)
    return replace(done, text=text, stopped=done.stopped or found) if found else done


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
