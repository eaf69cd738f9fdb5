"""run_server: uvicorn around the application, with a graceful shutdown on SIGTERM or Ctrl-C.

`bind` takes the listening address before the model loads, so that a port in use or a host this
machine cannot listen on ends the command at once, in one sentence, not after start-up.

On the signal the application starts draining at once: new requests get 503 and the model
worker searches what is queued without waiting for company. uvicorn then closes the listening
socket (new connections are refused), closes idle connections, waits up to
``shutdown_timeout`` seconds for the requests in flight to be answered, and runs the
application's shutdown, which stops the model worker.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from seq2seq.errors import ConfigError

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn's server that calls `on_exit` (from the event loop) when asked to stop."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._begin_draining()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Ask for a graceful shutdown from another thread (tests, embedding)."""
        self._begin_draining()
        self.should_exit = True

    def _begin_draining(self) -> None:
        if self.should_exit:
            return
        log.info("shutting down: answering the requests in flight, refusing new ones")
        if self.loop is not None and self.loop.is_running():
            # A signal handler (or another thread) must not touch asyncio objects directly.
            self.loop.call_soon_threadsafe(self.on_exit)
        else:
            self.on_exit()


def make_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    shutdown_timeout: float = 30.0,
    access_log: bool = False,
    log_level: str = "info",
) -> DrainingServer:
    """A server for `app` (from `create_app`); call its ``run()`` (blocks) or ``serve()``."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        # uvicorn annotates an int but hands it to asyncio.timeout, which takes seconds as a float
        timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
        access_log=access_log,
        log_level=log_level,
        server_header=False,
    )
    return DrainingServer(config, on_exit=app.state.service.drain)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), as uvicorn would bind it; `ConfigError` naming the setting
    (serve.host, serve.port) when the address cannot be resolved, is not this machine's or is in
    use. uvicorn listens on it (``server.run(sockets=[sock])``)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(
            f"serve.host {host!r} is not an address to listen on ({reason})"
        ) from None
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"serve.port {port} on {host} is in use by another program; choose another port"
            ) from None
        raise ConfigError(
            f"cannot listen on serve.host {host!r}, port {port} ({err.strerror or err}); give an "
            "address of this machine, such as 127.0.0.1 or 0.0.0.0"
        ) from None
    return sock
