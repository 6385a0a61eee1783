"""Query micro-batching: concurrent queries share model calls and get the vectors a lone call gives."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from qa_service.batching import QueryBatcher

QUERIES = [
    "What is the recommended treatment for vitamin B12 deficiency in infants?",
    "How long should oral cobalamin be given?",
    "Which laboratory tests confirm the deficiency?",
    "What are the neurological signs in infants?",
    "Is intramuscular hydroxocobalamin preferred?",
    "When should the methylmalonic acid be rechecked?",
    "What dose for breastfed infants of vegan mothers?",
    "Does folate mask the deficiency?",
]


def test_concurrent_queries_share_model_calls_and_match_lone_encodes(embedder: Any) -> None:
    batcher = QueryBatcher(embedder, window_s=0.05)
    expected = {q: embedder.encode([q])[0] for q in QUERIES}
    got: dict[str, np.ndarray] = {}
    start = threading.Barrier(len(QUERIES))

    def ask(q: str) -> None:
        with batcher.active():
            start.wait()
            got[q] = batcher.encode(q)

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUERIES]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert batcher.encoded == len(QUERIES)
        assert batcher.batches < len(QUERIES)  # at least two queries went in one model call
        for q in QUERIES:
            assert np.allclose(got[q], expected[q], atol=1e-5)
    finally:
        batcher.close()


def test_a_lone_query_is_encoded_alone_and_right_away(embedder: Any) -> None:
    batcher = QueryBatcher(embedder, window_s=30.0)  # a window this long would show if a lone query waited
    try:
        with batcher.active():
            vector = batcher.encode(QUERIES[0])
        assert np.allclose(vector, embedder.encode([QUERIES[0]])[0], atol=1e-5)
        assert (batcher.batches, batcher.encoded) == (1, 1)
    finally:
        batcher.close()


class _Broken:
    """An embedder whose model call fails (a real model cannot be made to fail on demand)."""

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        raise RuntimeError("model failed")


def test_a_failed_batch_raises_in_every_caller_and_the_batcher_keeps_working(embedder: Any) -> None:
    batcher = QueryBatcher(_Broken())
    try:
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.encode("anything")
        batcher.embedder = embedder
        assert batcher.encode(QUERIES[1]).shape == (embedder.dimension,)
    finally:
        batcher.close()


def test_engine_answers_through_the_batcher(corpus_engine: Any) -> None:
    before = corpus_engine.query_encoder.encoded
    corpus_engine.ask(QUERIES[0])
    assert corpus_engine.query_encoder.encoded == before + 1


def test_overlapping_asks_move_the_model_to_an_encoder_process(embedder: Any) -> None:
    batcher = QueryBatcher(embedder, use_process=True)
    try:
        first = batcher.encode(QUERIES[0])  # in-process while the encoder process loads the model
        deadline = time.monotonic() + 180
        while not batcher.in_process and time.monotonic() < deadline:
            time.sleep(0.2)
        assert batcher.in_process
        second = batcher.encode(QUERIES[0])
        assert np.allclose(first, second, atol=1e-5)
        assert np.allclose(second, embedder.encode([QUERIES[0]])[0], atol=1e-5)
    finally:
        batcher.close()
