"""A TLS front for a plaintext broker: terminates TLS (client certificate required) and forwards bytes.

With the broker advertising the proxy's address, every byte a client exchanges with the broker
goes through TLS: what a client sends in plaintext never reaches it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path


class TlsProxy:
    def __init__(self, port: int, target_port: int, cert: Path, key: Path, ca: Path) -> None:
        self.port, self.target_port = port, target_port
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
        self.ctx.load_cert_chain(str(cert), str(key))
        self.ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: a client without our CA's certificate is refused
        self.handshakes = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            w.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            tr, tw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            w.close()
            return
        await asyncio.gather(self._pipe(r, tw), self._pipe(tr, w))

    def start(self) -> TlsProxy:
        self._loop.set_exception_handler(lambda loop, context: None)  # failed handshakes: expected
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.ctx), self._loop).result(10)
        return self

    def close(self) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
