"""run_server: uvicorn around the application, with a graceful shutdown on SIGTERM or Ctrl-C.

On the signal the application starts draining at once: new requests get 503 and the model
worker searches what is queued without waiting for company. uvicorn then closes the listening
socket (new connections are refused), closes idle connections, waits up to
``shutdown_timeout`` seconds for the requests in flight to be answered, and runs the
application's shutdown, which stops the model worker.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

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
        timeout_graceful_shutdown=shutdown_timeout,
        access_log=access_log,
        log_level=log_level,
        server_header=False,
    )
    return DrainingServer(config, on_exit=app.state.service.drain)
