"""``medcite serve``: bind, open the engine once, serve with uvicorn, release the data dir on exit.

Checks come before the slow part: the bind address is allowed (without
``MEDCITE_API_KEYS`` only loopback), the keys parse, and the port is free;
only then is the model loaded. Log lines are JSON on stderr, one per request.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ingest.errors import MedciteError, UsageError
from ingest.settings import Settings, get_settings
from qa_service.api.security import is_loopback, parse_api_keys
from qa_service.logs import JsonFormatter

logger = logging.getLogger(__name__)


def check_bind_allowed(host: str, settings: Settings) -> None:
    """Refuse a non-loopback address when no API keys are configured (anyone could then read and write)."""
    keys = parse_api_keys(settings.api_keys)
    if not keys.enabled and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without API keys: set MEDCITE_API_KEYS='key:role,...' "
            "(roles reader, editor, reviewer, admin), or listen on 127.0.0.1"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a MedciteError that says why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}: unknown host ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise MedciteError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def configure_service_logging() -> None:
    """JSON lines on stderr at INFO (DEBUG if ``-vv`` asked for it); access lines come from our middleware."""
    root = logging.getLogger()
    level = min(root.level or logging.INFO, logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "chromadb",
        "httpx",
        "sentence_transformers",
        "urllib3",
        "bm25s",
        "transformers",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


_URL_ENV = "MEDCITE_SERVE_URL"  # handed to spawned workers: where the server listens


def check_workers_allowed(workers: int, settings: Settings) -> None:
    """Several workers need shared services: an embedded data dir has exactly one owner."""
    from ingest.store import services_mode

    if workers > 1 and not services_mode(settings):
        raise UsageError(
            f"--workers {workers} needs shared services: set MEDCITE_DATABASE_URL=postgresql+psycopg://... and "
            "MEDCITE_CHROMA_URL=http://host:port (an embedded data dir is owned by one process; see docs/services.md)"
        )


def check_services(settings: Settings) -> None:
    """Fail at start-up with one line when the database or the Chroma server does not answer.

    Also migrates the database once here, before the workers start (they would
    otherwise all try at once; the migration lock makes that safe, but slower).
    """
    from ingest.docstore import DocumentStore
    from ingest.vectors import make_chroma_client
    from qa_service.audit import AuditLog

    DocumentStore(settings.data_dir, settings.database_url).close()
    AuditLog.open(settings).close()
    make_chroma_client(settings.data_dir, settings.chroma_url)


def worker_app() -> Any:
    """The app of one spawned worker (``uvicorn --factory``): settings from the environment."""
    from qa_service.api.app import create_app

    configure_service_logging()
    settings = get_settings()
    return create_app(settings, public_url=os.environ.get(_URL_ENV))


def _run_workers(sock: socket.socket, url: str, workers: int, settings: Settings) -> None:
    """N worker processes on one listening socket (uvicorn spawns them: no torch state is forked)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    check_services(settings)
    os.environ[_URL_ENV] = url
    os.environ["MEDCITE_DATA_DIR"] = str(settings.data_dir)
    print(f"medcite: starting {workers} workers on {url}/ (Ctrl+C stops)", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        "qa_service.api.server:worker_app",
        factory=True,
        workers=workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    Multiprocess(config, sockets=[sock]).run()


def run(host: str = "127.0.0.1", port: int = 8000, data_dir: Path | None = None, workers: int = 1) -> None:
    """Serve the API and web UI until interrupted.

    Raises:
        UsageError: a non-loopback host without API keys, malformed keys, or
            several workers on an embedded store.
        MedciteError: the port is taken, the data dir is owned by another process,
            or a service does not answer.
    """
    import uvicorn

    from qa_service.api.app import create_app
    from qa_service.engine import Engine

    settings = get_settings(data_dir)
    check_bind_allowed(host, settings)
    check_workers_allowed(workers, settings)
    sock = bind_socket(host, port)
    url = url_for(host, port)
    try:
        if workers > 1:
            configure_service_logging()
            _run_workers(sock, url, workers, settings)
            return
        configure_service_logging()
        print(
            f"medcite: loading the model and the store in {settings.data_dir} ...",
            file=sys.stderr,
            flush=True,
        )
        engine = Engine.open(settings, owner={"command": "serve", "url": url})
        try:
            app = create_app(settings, engine, public_url=url)
            print(
                f"medcite: serving the web UI on {url}/  (API docs: {url}/docs; Ctrl+C stops)",
                file=sys.stderr,
                flush=True,
            )
            config = uvicorn.Config(
                app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=10
            )
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            engine.close()
    finally:
        sock.close()
