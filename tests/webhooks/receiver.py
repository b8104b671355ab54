"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, verifies signatures.

It answers `status` (200 by default), or hangs for `delay` seconds first; `down()` closes the
port (connections are refused) and `up()` opens it again on the same port.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    at: float  # time.monotonic() when the body was read
    headers: dict[str, str]
    body: str
    status: int  # what the receiver answered

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    status: int = 200
    delay: float = 0.0
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    arrivals: int = 0  # requests whose body was read, answered or not (yet)
    _server: asyncio.AbstractServer | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def up(self) -> "Receiver":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def accepted(self) -> list[Received]:
        """The requests answered 2xx (what the receiver took)."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def verify(self, received: Received) -> dict:
        """The payload, if its signature is good (raises WebhookVerificationError otherwise)."""
        return Webhook(self.secret).verify(received.body, received.headers)

    async def wait_for(self, count: int, timeout: float = 10.0, accepted: bool = True) -> list[Received]:
        """Wait until `count` requests (2xx-answered ones by default) have arrived; return them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.accepted() if accepted else self.requests
            if len(got) >= count:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(got)} of {count} webhook requests arrived within {timeout} s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(time.monotonic(), headers, body.decode(), self.status)
            self.arrivals += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            self.requests.append(received)
            self._arrived.set()
            reason = {200: "OK", 500: "Internal Server Error"}.get(received.status, "Status")
            writer.write(f"HTTP/1.1 {received.status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                         .encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def check_signature(secret: str, received: Received) -> None:
    """Raise unless standardwebhooks verifies the request."""
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError as exc:
        raise AssertionError(f"bad signature on {received.id}: {exc}") from None
