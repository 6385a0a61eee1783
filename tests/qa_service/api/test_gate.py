"""StoreGate: readers share, writers are exclusive, and neither side can starve the other."""

from __future__ import annotations

import threading
import time

from qa_service.api.gate import StoreGate

WAIT = 5.0


def started_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_readers_share() -> None:
    gate = StoreGate()
    inside = threading.Barrier(3, timeout=WAIT)

    def read() -> None:
        with gate.reading():
            inside.wait()  # only passes when all three are inside at once

    threads = [started_thread(read) for _ in range(3)]
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads)


def test_writer_excludes_readers_and_writers() -> None:
    gate = StoreGate()
    active = {"readers": 0, "writers": 0}
    violations: list[str] = []
    lock = threading.Lock()

    def enter(kind: str) -> None:
        with lock:
            active[kind] += 1
            if active["writers"] > 1 or (active["writers"] and active["readers"]):
                violations.append(str(active))

    def leave(kind: str) -> None:
        with lock:
            active[kind] -= 1

    def read() -> None:
        for _ in range(50):
            with gate.reading():
                enter("readers")
                time.sleep(0.0005)
                leave("readers")

    def write() -> None:
        for _ in range(20):
            with gate.writing():
                enter("writers")
                time.sleep(0.001)
                leave("writers")

    threads = [started_thread(read) for _ in range(4)] + [started_thread(write) for _ in range(2)]
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert violations == []


def test_waiting_writer_holds_back_new_readers() -> None:
    gate = StoreGate()
    order: list[str] = []
    first_reader_in, release_first = threading.Event(), threading.Event()

    def first_reader() -> None:
        with gate.reading():
            first_reader_in.set()
            release_first.wait(WAIT)
        order.append("reader-1 out")

    def writer() -> None:
        with gate.writing():
            order.append("writer")

    def late_reader() -> None:
        with gate.reading():
            order.append("reader-2")

    t1 = started_thread(first_reader)
    assert first_reader_in.wait(WAIT)
    tw = started_thread(writer)
    time.sleep(0.1)  # the writer is now waiting
    t2 = started_thread(late_reader)
    time.sleep(0.1)
    assert order == []  # the late reader did not jump the waiting writer
    release_first.set()
    for t in (t1, tw, t2):
        t.join(WAIT)
    assert order.index("writer") < order.index("reader-2")


def test_readers_waiting_through_a_write_go_before_the_next_write() -> None:
    """A writer that writes again at once (one file after another) must let waiting asks in between."""
    gate = StoreGate()
    order: list[str] = []
    writer_in, reader_waiting, go = threading.Event(), threading.Event(), threading.Event()

    def writer() -> None:
        for n in (1, 2):
            with gate.writing():
                order.append(f"write-{n}")
                if n == 1:
                    writer_in.set()
                    go.wait(WAIT)

    def reader() -> None:
        reader_waiting.set()
        with gate.reading():
            order.append("read")

    tw = started_thread(writer)
    assert writer_in.wait(WAIT)
    tr = started_thread(reader)
    assert reader_waiting.wait(WAIT)
    time.sleep(0.1)  # the reader is blocked on the first write
    go.set()
    for t in (tw, tr):
        t.join(WAIT)
    assert order == ["write-1", "read", "write-2"]
