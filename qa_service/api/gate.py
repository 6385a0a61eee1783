"""Reads and writes of the store from many request threads, safely and without starving anyone.

Asks, searches, quizzes and health share the store; an ingest or a delete takes
it exclusively (writers rebuild and save the BM25 index, and a reader racing that
could load a half-renamed folder). The API ingests one file per exclusive
section, so an ask waits for at most one file's embedding, never a whole batch.

That only works if the lock is *phase-fair*, which the usual readers-writer locks
(e.g. the ``readerwriterlock`` package, whose plain mutexes do not hand over in
order) are not: a writer that releases and at once asks again would win every
time and starve the waiting asks for the whole upload. Here:

* a new reader waits while a writer holds the store or waits for it (writers
  cannot be starved by a stream of asks);
* when a writer releases, every reader already waiting goes in before the next
  writer (readers cannot be starved by a stream of files).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StoreGate:
    """A phase-fair readers-writer lock around one store (not re-entrant: never nest sections)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0  # readers inside
        self._writer = False  # a writer inside
        self._writers_waiting = 0
        self._readers_waiting = 0
        self._epoch = 0  # write releases so far
        self._due_readers = 0  # waiting readers that arrived before the last write release: they go next

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Shared access: any number of readers at once, never beside a writer."""
        self._acquire_read()
        try:
            yield
        finally:
            self._release_read()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive access for one writer."""
        self._acquire_write()
        try:
            yield
        finally:
            self._release_write()

    def _acquire_read(self) -> None:
        with self._cond:
            arrived = self._epoch
            self._readers_waiting += 1
            try:
                while self._writer or (self._writers_waiting and arrived == self._epoch):
                    self._cond.wait()
            finally:
                self._readers_waiting -= 1
                # A reader that waited through a write release was counted as due: it is no longer waiting
                # (it goes in, or it was interrupted), so the next writer must not wait for it.
                if arrived != self._epoch and self._due_readers:
                    self._due_readers -= 1
                    if not self._due_readers:
                        self._cond.notify_all()
            self._readers += 1

    def _release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers or self._due_readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def _release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._epoch += 1
            self._due_readers = self._readers_waiting
            self._cond.notify_all()
