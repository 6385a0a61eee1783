"""Micro-batching of query embeddings: concurrent asks share one model call instead of fighting for the cores.

On 2 cores, 8 threads each running the model on one short query oversubscribe
torch's thread pool and serialise on the GIL between ops: 8 concurrent clients
answered fewer questions per second than one client asking in turn (0.87x). One
forward pass over a batch of 8 short queries costs little more than over one, so
here every query goes to a single encoder thread, which takes whatever queries
are waiting (up to ``max_batch``) and encodes them in one call.

Batches form by themselves under load: while one batch is encoded, the queries
that arrive wait and go together in the next. When other asks are under way but
not yet at their embedding (asks inside ``active()`` that have not submitted
their query yet), the encoder also waits up to ``window_s`` for them, so that
a burst of arrivals becomes one batch rather than one query plus the rest. A lone
caller never waits for the window: with nobody else active it is encoded at once.

The vectors equal ``embedder.encode([q])[0]`` up to float rounding (padding
tokens are masked out of the mean pooling; measured max abs difference ~1e-7).

**The model in a process of its own.** Batching alone is not enough on 2 cores:
torch releases the GIL around every op of a forward pass and must take it back
after each, while the other asks run Python (sentence scoring, fusion) that holds
it for up to the 5 ms switch interval, so a forward pass of ~100 ops waits on the
GIL far longer than it computes (measured: 8 batched clients had p50 356 ms
against 98 ms sequential). So once asks are seen to overlap, the encoder thread
hands its batches to a spawned process (../shared/PITFALLS.md §4: spawn, never
fork, after torch ran) holding its own copy of the model (about 0.3 GB): the
model then computes on one core while Python answers on the other, and the only
GIL work left here is a pipe send and receive per batch. A lone process (the
CLI, eval) never starts it; until it is ready, and if it ever fails, batches are
encoded in-process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

# torch threads of the encoder process. One: the other core is for the asks' Python, and with two,
# whenever the machine is busy one OpenMP thread spins at every barrier waiting for the other (measured
# on this 2-core machine at load 12: 2 threads 230 CPU ms and 1,017 ms wall per query, 1 thread 14 ms
# and 27 ms). MEDCITE_ENCODER_THREADS overrides it (e.g. on a machine with cores to spare).
ENCODER_THREADS = int(os.environ.get("MEDCITE_ENCODER_THREADS", "1"))


@dataclass
class _Request:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None


def _encoder_process(conn: Any, model: str, threads: int) -> None:
    """Body of the encoder process: load the model, then encode each list of texts it is sent."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from ingest.embeddings import load_embedder
    from ingest.settings import EmbeddingSettings

    embedder = load_embedder(EmbeddingSettings(model=model, threads=threads))
    conn.send(("ready", embedder.dimension))
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if texts is None:
            return
        try:
            conn.send(("ok", embedder.encode(texts, batch_size=len(texts))))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _EncoderProcess:
    """A spawned process holding its own copy of the model (see the module docstring)."""

    def __init__(self, model: str, threads: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_encoder_process, args=(child, model, threads), daemon=True, name="medcite-encoder"
        )
        self._proc.start()
        child.close()
        self.pid = self._proc.pid
        kind, _ = self._conn.recv()  # blocks until the model is loaded (raises EOFError if it died)
        if kind != "ready":  # pragma: no cover - protocol error
            raise RuntimeError("the encoder process did not start")

    def encode(self, texts: list[str]) -> np.ndarray:
        self._conn.send(texts)
        kind, value = self._conn.recv()
        if kind != "ok":
            raise RuntimeError(f"the encoder process failed: {value}")
        return np.asarray(value, dtype=np.float32)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._proc.join(timeout=10)
        if self._proc.is_alive():  # pragma: no cover - stuck in the model
            self._proc.kill()


class QueryBatcher:
    """One encoder thread that embeds concurrent queries in shared model calls."""

    def __init__(
        self, embedder: Any, *, window_s: float = 0.004, max_batch: int = 32, use_process: bool | None = None
    ) -> None:
        """``use_process``: None = start the encoder process once asks overlap (when the embedder can be
        rebuilt from its model name); False = never; True = at the first query."""
        self.embedder = embedder
        self.window_s = window_s
        self.max_batch = max_batch
        rebuildable = type(embedder).__name__ == "SentenceTransformerEmbeddings"
        self._process_mode = use_process if use_process is not None else ("auto" if rebuildable else False)
        self._process: _EncoderProcess | None = None
        self._process_state = "none"  # none | starting | ready | failed
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._coming = 0  # asks under way that have not submitted their query yet
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # model calls made (for benchmarks and tests)
        self.encoded = 0  # queries encoded

    # -- callers
    @contextmanager
    def active(self) -> Iterator[None]:
        """Mark an ask as under way: the encoder may wait briefly for its query to batch it with others."""
        with self._cond:
            self._coming += 1
        self._local.coming = True
        try:
            yield
        finally:
            self._left()

    def _left(self) -> None:
        """This thread's ask submitted its query (or ended without one): stop waiting for it."""
        if getattr(self._local, "coming", False):
            self._local.coming = False
            with self._cond:
                self._coming -= 1
                self._cond.notify_all()

    def encode(self, text: str) -> np.ndarray:
        """The unit vector of ``text`` (blocks until its batch is encoded)."""
        request = _Request(text)
        was_coming = getattr(self._local, "coming", False)
        self._local.coming = False
        with self._cond:
            if was_coming:  # in the same section as the append: the encoder never sees it gone but not queued
                self._coming -= 1
            if self._closed:
                raise RuntimeError("the query batcher is closed")
            self._ensure_thread()
            self._pending.append(request)
            overlapping = self._coming > 0 or len(self._pending) > 1
            self._cond.notify_all()
        if self._process_state == "none" and (
            self._process_mode is True or (self._process_mode == "auto" and overlapping)
        ):
            self._start_process()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vector is not None
        return request.vector

    def close(self) -> None:
        """Stop the encoder thread once the queries already queued are done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._process is not None:
            self._process.close()
            self._process = None

    def start_process(self) -> None:
        """Start the encoder process now (a server expects concurrent asks), when the embedder allows it."""
        if self._process_mode is not False and self._process_state == "none":
            self._start_process()

    @property
    def process_pid(self) -> int | None:
        """The encoder process's pid while it serves (for measuring its CPU time)."""
        process = self._process
        return process.pid if process is not None and self._process_state == "ready" else None

    @property
    def in_process(self) -> bool:
        """Whether batches are encoded by the encoder process now."""
        return self._process_state == "ready"

    def _start_process(self) -> None:
        """Start the encoder process in the background (asks keep being served in-process meanwhile)."""
        with self._cond:
            if self._process_state != "none":
                return
            self._process_state = "starting"

        def start() -> None:
            try:
                process = _EncoderProcess(self.embedder.model_name, ENCODER_THREADS)
            except Exception:
                self._process_state = "failed"
                if self._closed:  # closed (or the interpreter exiting) while the model loaded: nothing lost
                    return
                logger.warning("could not start the encoder process; encoding in-process", exc_info=True)
                return
            with self._cond:
                if self._closed:
                    process.close()
                    return
                self._process = process
                self._process_state = "ready"
            logger.info("query encoder process ready")

        threading.Thread(target=start, name="medcite-encoder-start", daemon=True).start()

    # -- the encoder thread
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="medcite-query-encoder", daemon=True)
            self._thread.start()

    def _next_batch(self) -> list[_Request] | None:
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.window_s
            # Others are mid-ask and may reach their embedding within the window: wait for them.
            while self._coming and len(self._pending) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            texts = [r.text for r in batch]
            try:
                vectors = None
                process = self._process if self._process_state == "ready" else None
                if process is not None:
                    try:
                        vectors = process.encode(texts)
                    except (OSError, EOFError, RuntimeError):
                        logger.warning(
                            "the encoder process failed; encoding in-process from now on", exc_info=True
                        )
                        self._process_state = "failed"
                if vectors is None:
                    vectors = self.embedder.encode(texts, batch_size=len(texts))
                for request, vector in zip(batch, vectors, strict=True):
                    request.vector = vector
            except BaseException as exc:  # handed to every waiting caller, who re-raises it
                logger.exception("query embedding failed")
                for request in batch:
                    request.error = exc
            finally:
                self.batches += 1
                self.encoded += len(batch)
                for request in batch:
                    request.done.set()
