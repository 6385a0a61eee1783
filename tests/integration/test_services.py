"""medcite on real PostgreSQL and a real Chroma server: several servers, ingest beside them, crashes.

Every test here runs against the services ``.ci/services.sh`` starts (see conftest);
each "server" is a `medcite serve` process of its own, as on separate machines.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CORPUS
from tests.integration.conftest import (
    Server,
    drop_collection,
    ingest_json,
    medcite,
    service_env,
    start_ingest,
    store_snapshot,
    write_notes,
)

pytestmark = [pytest.mark.slow, pytest.mark.services]

ANSWERABLE = "What is the recommended treatment for vitamin B12 deficiency in infants?"


def _start(servers: list[Server], *new: Server) -> list[Server]:
    """Start servers together (each loads the model) and wait for all."""
    for s in new:
        servers.append(s.start())
    return [s.wait_ready() for s in new]


def _check_passages(http: httpx.Client, passages: list[dict[str, Any]], texts: dict[str, str]) -> None:
    """Every passage is exactly its document's text at its offsets (a half-written document would break this)."""
    for p in passages:
        if p["doc_id"] not in texts:
            doc = http.get(f"/v1/documents/{p['doc_id']}")
            assert doc.status_code == 200, doc.text
            texts[p["doc_id"]] = doc.json()["text"]
        assert texts[p["doc_id"]][p["start"] : p["end"]] == p["text"]


def test_ingest_ask_audit_review_delete_and_restart_across_two_servers(
    database_url: str, tmp_path: Path, servers: list[Server]
) -> None:
    env_a = service_env(database_url, tmp_path / "machine-a")
    env_b = service_env(database_url, tmp_path / "machine-b")
    try:
        summary = ingest_json(medcite(env_a, "ingest", str(CORPUS), "--json"))
        assert (summary["added"], summary["errors"]) == (2, [])
        a, b = _start(servers, Server(env_a, workers=2), Server(env_b))
        with a.client() as ha, b.client() as hb:
            for h in (ha, hb):
                health = h.get("/health").json()
                assert health["backends"] == {"documents": "postgresql", "vectors": "chroma-server", "llm": None}
                assert health["reachable"] == {"documents": True, "vectors": True}
                assert (health["documents"], health["chunks"]) == (2, summary["chunks"])

            asked = ha.post("/v1/ask", json={"question": ANSWERABLE})
            assert asked.status_code == 200, asked.text
            answer = asked.json()
            assert not answer["abstained"] and answer["citations"]
            # the audit log is shared: machine B sees and reviews what machine A served
            listed = hb.get("/v1/answers").json()["answers"]
            assert answer["id"] in [r["id"] for r in listed]
            reviewed = hb.post(
                f"/v1/answers/{answer['id']}/review", json={"status": "approved", "reviewer": "dr-b"}
            )
            assert reviewed.status_code == 200, reviewed.text
            record = ha.get("/v1/answers", params={"status": "approved"}).json()["answers"]
            assert [r["id"] for r in record] == [answer["id"]]

            # a delete through B is seen by A's next search (its lexical index follows the generation)
            doc_id = answer["citations"][0]["doc_id"]
            assert hb.delete(f"/v1/documents/{doc_id}").status_code == 204
            for h in (ha, hb):
                passages = h.get("/v1/search", params={"q": "hydroxocobalamin infants", "k": 10}).json()["passages"]
                assert passages and all(p["doc_id"] != doc_id for p in passages)
                assert h.get(f"/v1/documents/{doc_id}").status_code == 404

        # a worker restart: the state lives in the services, not in the process
        a.stop()
        (a2,) = _start(servers, Server(env_a, workers=2, port=a.port))
        with a2.client() as h:
            assert h.get("/health").json()["documents"] == 1
            again = h.post("/v1/ask", json={"question": ANSWERABLE})
            assert again.status_code == 200
            assert all(c["doc_id"] != doc_id for c in again.json()["citations"])
            assert len(h.get("/v1/answers").json()["answers"]) == 2
    finally:
        drop_collection(database_url, tmp_path / "machine-a")


def test_two_servers_answer_correctly_while_a_third_process_ingests(
    database_url: str, tmp_path: Path, servers: list[Server]
) -> None:
    env = service_env(database_url, tmp_path / "ingester")
    try:
        ingest_json(medcite(env, "ingest", str(CORPUS), "--json"))
        a, b = _start(
            servers,
            Server(service_env(database_url, tmp_path / "machine-a")),
            Server(service_env(database_url, tmp_path / "machine-b")),
        )
        folder = write_notes(tmp_path / "new", 40, "ferritinology")
        stop = threading.Event()
        seen: dict[str, Any] = {"ok": 0, "errors": [], "new_doc_hits": 0}

        def keep_asking(server: Server) -> None:
            texts: dict[str, str] = {}
            with server.client() as h:
                while not stop.is_set():
                    try:
                        r = h.get("/v1/search", params={"q": "ferritinology ferrous sulfate toddlers", "k": 8})
                        assert r.status_code == 200, r.text
                        passages = r.json()["passages"]
                        _check_passages(h, passages, texts)
                        seen["new_doc_hits"] += sum("ferritinology" in p["source"] for p in passages)
                        r = h.post("/v1/ask", json={"question": "What dose of oral iron corrects deficiency in toddlers?"})
                        assert r.status_code == 200, r.text
                        _check_passages(h, r.json()["citations"], texts)
                        seen["ok"] += 1
                    except Exception as exc:  # noqa: BLE001 - collected and asserted below
                        seen["errors"].append(f"{server.url}: {type(exc).__name__}: {exc}")
                        time.sleep(0.5)

        askers = [threading.Thread(target=keep_asking, args=(s,)) for s in (a, b, a, b)]
        for t in askers:
            t.start()
        try:
            result = ingest_json(medcite(env, "ingest", str(folder), "--json"))
        finally:
            stop.set()
            for t in askers:
                t.join(timeout=300)
        assert result["added"] == 40
        assert seen["errors"] == [] and seen["ok"] > 0
        # after the ingest, both servers find the new documents, lexically too (rebuilt from the rows)
        for server in (a, b):
            with server.client() as h:
                hits = h.get("/v1/search", params={"q": "ferritinology", "k": 5}).json()["passages"]
                assert hits and all("ferritinology" in p["source"] for p in hits)
                assert h.get("/health").json()["documents"] == 42
    finally:
        drop_collection(database_url, tmp_path / "ingester")


def _committed(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])  # type: ignore[index]
        except psycopg.errors.UndefinedTable:
            return 0


def test_kill_9_of_an_ingest_then_a_rerun_gives_the_store_of_one_clean_run(
    database_url: str, tmp_path: Path, services: None
) -> None:
    import psycopg

    folder = write_notes(tmp_path / "docs", 60, "haemosiderin", paragraphs=4)
    crashed_dir, clean_dir = tmp_path / "crashed", tmp_path / "clean"
    clean_url = database_url + "_clean"
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1).rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{clean_url.rpartition("/")[2]}"')
    try:
        proc = start_ingest(service_env(database_url, crashed_dir), folder)
        deadline = time.monotonic() + 300
        while _committed(database_url) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the ingest finished before it could be killed: " + proc.stderr.read()[-500:]  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        partial = _committed(database_url)
        assert 0 < partial < 60

        # the killed process's write lock died with its connection: the re-run does not wait for it
        rerun = medcite(service_env(database_url, crashed_dir), "ingest", str(folder), "--json", timeout=900)
        summary = ingest_json(rerun)
        assert (summary["added"], summary["unchanged"]) == (60 - partial, partial)
        assert "waiting for another" not in rerun.stderr

        ingest_json(medcite(service_env(clean_url, clean_dir), "ingest", str(folder), "--json", timeout=900))
        recovered = store_snapshot(database_url, crashed_dir)
        expected = store_snapshot(clean_url, clean_dir)
        assert recovered == expected
        assert recovered["chunks"] == recovered["vectors"] and len(recovered["docs"]) == 60
    finally:
        drop_collection(database_url, crashed_dir)
        drop_collection(clean_url, clean_dir)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{clean_url.rpartition("/")[2]}" WITH (FORCE)')


def test_two_ingests_at_once_take_turns_and_lose_nothing(database_url: str, tmp_path: Path, services: None) -> None:
    one = write_notes(tmp_path / "one", 25, "siderosis")
    two = write_notes(tmp_path / "two", 25, "transferrinemia")
    data_dir = tmp_path / "data"
    try:
        # the store is created (migrated) first, so the two runs race only for the write lock
        ingest_json(medcite(service_env(database_url, data_dir), "ingest", str(CORPUS), "--json"))
        first = start_ingest(service_env(database_url, tmp_path / "p1"), one)
        second = start_ingest(service_env(database_url, tmp_path / "p2"), two)
        outs = [p.communicate(timeout=900) for p in (first, second)]
        assert [p.returncode for p in (first, second)] == [0, 0], [e[-2000:] for _, e in outs]
        assert any("waiting for another ingest" in err for _, err in outs)  # one of them waited its turn
        snap = store_snapshot(database_url, data_dir)
        assert len(snap["docs"]) == 52
        assert snap["chunks"] == snap["vectors"]  # neither run collected the other's fresh vectors
    finally:
        drop_collection(database_url, data_dir)


def test_a_large_lexical_index_is_rebuilt_in_the_background_while_the_old_one_serves(
    database_url: str, tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.store
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from ingest.store import Store
    from tests.integration.conftest import CHROMA_URL

    monkeypatch.setattr(ingest.store, "BACKGROUND_REBUILD_CHUNKS", 1)  # every index counts as large here
    settings = get_settings(tmp_path / "data", database_url=database_url, chroma_url=CHROMA_URL)
    store = Store(settings, embedder=embedder)
    try:
        assert store.services
        ingest_paths(store, [CORPUS])
        first = store.lexical()  # no index yet: built at once
        assert first.generation == store.docs.generation()
        ingest_paths(store, [write_notes(tmp_path / "new", 2, "siderophage")])
        served = store.lexical()  # the old data, labelled with the new generation, while the new one builds
        assert served.generation == store.docs.generation() and served.size == first.size
        deadline = time.monotonic() + 120
        while store._lexical is first and time.monotonic() < deadline:
            time.sleep(0.1)
        fresh = store.lexical()
        assert fresh.size > first.size and fresh.generation == store.docs.generation()
        assert store.lexical_search("siderophage", 3)[0][0].source.startswith("siderophage")
    finally:
        store.vectors._client.delete_collection(store.collection_name)  # type: ignore[attr-defined]
        store.close()
