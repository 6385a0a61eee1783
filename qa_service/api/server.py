"""``medcite serve``: bind, open the engine once, serve with uvicorn, release the data dir on exit.

Checks come before the slow part: the bind address is allowed (without
``MEDCITE_API_KEYS`` only loopback), the keys parse, and the port is free;
only then is the model loaded. Log lines are JSON on stderr, one per request.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

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


def run(host: str = "127.0.0.1", port: int = 8000, data_dir: Path | None = None) -> None:
    """Serve the API and web UI until interrupted.

    Raises:
        UsageError: a non-loopback host without API keys, or malformed keys.
        MedciteError: the port is taken, or the data dir is owned by another process.
    """
    import uvicorn

    from qa_service.api.app import create_app
    from qa_service.engine import Engine

    settings = get_settings(data_dir)
    check_bind_allowed(host, settings)
    sock = bind_socket(host, port)
    url = url_for(host, port)
    try:
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
