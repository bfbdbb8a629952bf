"""The one generating thread behind `smolora serve`: jobs queue up, and queued jobs with the
same settings are generated together in one batch (up to `batch_size` prompts), so concurrent
clients share the model's throughput. Streamed jobs run alone, piece by piece.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from smolora_recipes.inference.finished_run import FinishedRun
from smolora_recipes.inference.generation import Completion, GenerationSettings, complete, stream

_DONE = object()  # end of a streamed answer


class QueueFull(Exception):
    """More requests are waiting than the generator queues (the server answers 429)."""


@dataclass
class _Job:
    """Prompts to answer with one set of settings; streamed jobs carry one prompt."""

    texts: list[str]
    settings: GenerationSettings
    result: Future[list[Completion]] = field(default_factory=Future)
    pieces: queue.Queue[Any] | None = None  # for streaming: text pieces, then _DONE


class Generator:
    """The generating thread: runs queued jobs, batching compatible non-streamed ones."""

    def __init__(self, finished: FinishedRun, batch_size: int, max_queued: int = 0) -> None:
        self.finished = finished
        self.batch_size = batch_size
        self.max_queued = max_queued  # 0: unbounded
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.batches_run = 0  # how many generate calls served the jobs (for tests and logs)
        threading.Thread(target=self._work, daemon=True, name="smolora-generate").start()

    def answer(self, texts: list[str], settings: GenerationSettings) -> list[Completion]:
        """Completions for `texts` (waits while earlier jobs run)."""
        job = _Job(texts, settings)
        self._enqueue(job)
        return job.result.result()

    def stream(
        self, text: str, settings: GenerationSettings
    ) -> tuple[Iterator[str], Future[list[Completion]]]:
        """Pieces of the answer to `text` as they are generated, and the finished answer (its
        future raises a generation error once the pieces are consumed)."""
        job = _Job([text], settings, pieces=queue.Queue())
        self._enqueue(job)

        def pieces() -> Iterator[str]:
            assert job.pieces is not None
            while (piece := job.pieces.get()) is not _DONE:
                yield piece

        return pieces(), job.result

    def _enqueue(self, job: _Job) -> None:
        """Queue a job, or raise QueueFull when `max_queued` jobs already wait."""
        if self.max_queued and self.jobs.qsize() >= self.max_queued:
            raise QueueFull
        self.jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job.pieces is not None:
                self._run_streamed(job)
                continue
            self._run_batch([job, *self._compatible_waiting(job)])

    def _run_batch(self, batch: list[_Job]) -> None:
        """Generate a batch of jobs together; when that fails, each job alone, so a job that
        cannot be generated fails by itself, not the requests batched with it."""
        texts = [text for member in batch for text in member.texts]
        try:
            done = complete(
                self.finished.model,
                self.finished.tokenizer,
                texts,
                _with_batch(batch[0].settings, self.batch_size),
            )
        except Exception as error:
            if len(batch) > 1:
                for member in batch:
                    self._run_batch([member])
            else:
                batch[0].result.set_exception(error)
            return
        self.batches_run += 1
        for member in batch:
            member.result.set_result(done[: len(member.texts)])
            done = done[len(member.texts) :]

    def _compatible_waiting(self, first: _Job) -> list[_Job]:
        """Queued non-streamed jobs with the same settings, up to the batch size in prompts."""
        taken, prompts, skipped = [], len(first.texts), []
        while prompts < self.batch_size:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job.pieces is None and job.settings == first.settings:
                taken.append(job)
                prompts += len(job.texts)
            else:
                skipped.append(job)
        for job in skipped:  # back in the queue (behind any that arrived meanwhile)
            self.jobs.put(job)
        return taken

    def _run_streamed(self, job: _Job) -> None:
        assert job.pieces is not None
        finished = self.finished
        try:
            done = stream(
                finished.model, finished.tokenizer, job.texts[0], job.settings, job.pieces.put
            )
            job.result.set_result([done])
        except Exception as error:
            job.result.set_exception(error)
        job.pieces.put(_DONE)


def _with_batch(settings: GenerationSettings, batch_size: int) -> GenerationSettings:
    return replace(settings, batch_size=batch_size)
