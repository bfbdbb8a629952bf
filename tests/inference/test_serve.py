"""`smolora serve`: the OpenAI python client against the tuned model, over loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smolora_recipes.inference.finished_run import open_finished_run
from smolora_recipes.inference.serve import make_server
from smolora_recipes.run.state import RunState


@pytest.fixture(scope="module")
def served(tiny_run: RunState) -> Iterator[tuple[Any, Any]]:
    from openai import OpenAI

    server = make_server(open_finished_run(tiny_run.run_dir), "tiny", "127.0.0.1", 0, 8)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="unused")
    yield client, server
    server.shutdown()
    server.server_close()


def test_models_lists_the_run(served: tuple[Any, Any]) -> None:
    client, _ = served
    assert [model.id for model in client.models.list()] == ["tiny"]


def test_chat_completion_answers_with_usage(served: tuple[Any, Any]) -> None:
    client, _ = served
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Who built the widget?"}], max_tokens=4
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in {"stop", "length"}
    assert 0 < reply.usage.completion_tokens <= 4 and reply.usage.prompt_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_chat_equals_the_whole_answer(served: tuple[Any, Any]) -> None:
    client, _ = served
    messages = [{"role": "user", "content": "What is quux?"}]
    whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6)
    chunks = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=6, stream=True
    )
    received = list(chunks)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in received)
    assert streamed.strip() == whole.choices[0].message.content
    assert received[-1].choices[0].finish_reason == whole.choices[0].finish_reason


def test_completions_take_a_list_of_prompts(served: tuple[Any, Any]) -> None:
    client, _ = served
    reply = client.completions.create(model="tiny", prompt=["The fox", "A widget"], max_tokens=3)
    assert [choice.index for choice in reply.choices] == [0, 1]
    assert all(isinstance(choice.text, str) for choice in reply.choices)


def test_concurrent_requests_are_generated_in_shared_batches(
    served: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, server = served
    generator = server.served.generator
    model = generator.finished.model
    real = model.generate

    entered, release = threading.Event(), threading.Event()

    def held_first(*args: Any, **kwargs: Any) -> Any:  # the others queue meanwhile
        if not entered.is_set():
            entered.set()
            assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", held_first)
    before = generator.batches_run
    answers: list[str] = []

    def ask(number: int) -> None:
        reply = client.completions.create(model="tiny", prompt=f"Fact {number}:", max_tokens=3)
        answers.append(reply.choices[0].text)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    threads[0].start()
    assert entered.wait(30)  # the first request is generating
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 30
    while generator.jobs.qsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition, not timing: the three are queued
    assert generator.jobs.qsize() == 3
    release.set()
    for thread in threads:
        thread.join()
    assert len(answers) == 4
    assert generator.batches_run - before == 2  # the first alone, the three that waited together


def test_bad_requests_get_openai_style_errors(served: tuple[Any, Any]) -> None:
    import openai

    client, _ = served
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model="tiny", prompt="x", max_tokens=0)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny", messages=[])


def test_serve_on_a_busy_port_is_a_clear_user_error(tiny_run: RunState) -> None:
    import socket

    from click.testing import CliRunner

    from smolora_recipes.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", str(tiny_run.run_dir), "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_stop_cuts_a_streamed_answer_as_it_cuts_a_whole_one(served: tuple[Any, Any]) -> None:
    client, _ = served
    asked = {"model": "tiny", "prompt": "Who built the widget?", "max_tokens": 12, "temperature": 1}
    text = client.completions.create(**asked).choices[0].text
    assert len(text) >= 4, text  # sampled with a fixed seed: the same text every time
    stop = text[2:4]
    whole = client.completions.create(**asked, stop=[stop]).choices[0]
    chunks = list(client.completions.create(**asked, stop=[stop], stream=True))
    streamed = "".join(chunk.choices[0].text for chunk in chunks)
    assert streamed == whole.text == text[: text.find(stop)]
    assert chunks[-1].choices[0].finish_reason == whole.finish_reason == "stop"


def test_text_content_parts_are_read_as_the_text(served: tuple[Any, Any]) -> None:
    client, _ = served
    text = [{"role": "user", "content": "Who built\nthe widget?"}]
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Who built"},
                {"type": "text", "text": "the widget?"},
            ],
        }
    ]
    answers = [
        client.chat.completions.create(model="tiny", messages=m, max_tokens=4)
        for m in (text, parts)
    ]
    assert answers[0].choices[0].message.content == answers[1].choices[0].message.content
    assert answers[0].usage.prompt_tokens == answers[1].usage.prompt_tokens


def test_an_unknown_model_or_parameter_is_refused_as_openai_does(served: tuple[Any, Any]) -> None:
    import openai

    client, _ = served
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=2)
    assert missing.value.body == {
        "message": "The model `gpt-4o` does not exist; this server serves `tiny`",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="tiny", messages=messages, max_tokens=2, frequency_penalty=0.5
        )
    assert refused.value.body["param"] == "frequency_penalty"
    assert refused.value.body["message"].startswith(
        "frequency_penalty is not supported by smolora serve (it reads max_completion_tokens, "
    )


@pytest.mark.parametrize(
    ("pieces", "sent", "found"),
    [
        (["ab", "cE", "N", "Dxy", "more"], ["a", "b", "c"], True),  # a stop split over pieces
        (["ab", "cEN", "o"], ["a", "b", "cEN", "o"], False),  # "EN" was only held back
        (["x"], ["x"], False),
        (["END"], [], True),
    ],
)
def test_a_stream_is_cut_at_a_stop_string_split_over_pieces(
    pieces: list[str], sent: list[str], found: bool
) -> None:
    from smolora_recipes.inference.requests import StopCutter

    cutter = StopCutter(["END", "Q"])
    assert "".join(cutter.pieces(iter(pieces))) == "".join(sent) and cutter.found is found
