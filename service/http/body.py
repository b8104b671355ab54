"""Request bodies read against the clock, and spooled to a temporary file before any connection is taken.

A client that trickles its body must not hold anything scarce: the body is read
first (no database connection, no transaction), at a minimum average rate after
a grace period (`min_rate` 0 turns the check off), as Apache's mod_reqtimeout does (`body=10,MinRate=1024`): the
deadline starts `grace` seconds after the first byte was awaited and moves one
second further for every `min_rate` bytes received. A client at or above the
rate never times out; one below it is refused with 408 after at most
`grace + size / min_rate` seconds.
"""
from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from starlette.requests import Request

SPOOL_MEMORY = 1 << 20  # bodies up to this size stay in memory; larger ones go to a file under TMPDIR
BLOCK = 1 << 18  # bytes per write to / read from the spool file (each one in a worker thread)


class BodyTooSlow(Exception):
    """The client sent its body slower than the minimum rate."""

    def __init__(self, received: int, elapsed: float):
        super().__init__(f"the request body arrived too slowly ({received} bytes in {elapsed:.0f}s); "
                         "send it faster, or in smaller requests")
        self.received, self.elapsed = received, elapsed


class BodyTooBig(Exception):
    """The body passed `limit` bytes."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


async def timed_chunks(request: Request, min_rate: int, grace: float) -> AsyncIterator[bytes]:
    """The body's chunks as they come; BodyTooSlow once the client falls behind `min_rate` after `grace`."""
    loop = asyncio.get_running_loop()
    start, received = loop.time(), 0
    stream = request.stream()
    try:
        while True:
            deadline = start + grace + received / min_rate if min_rate else None
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BodyTooSlow(received, loop.time() - start) from None
            received += len(chunk)
            yield chunk
    finally:
        await stream.aclose()


async def spool(request: Request, max_bytes: int, min_rate: int, grace: float) -> IO[bytes]:
    """The whole body in a temporary file (memory while small), positioned at its start; the caller closes it.

    Raises BodyTooBig past `max_bytes`, BodyTooSlow, or starlette's ClientDisconnect.
    """
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - returned open to the caller
    try:
        size, pending = 0, bytearray()
        async for chunk in timed_chunks(request, min_rate, grace):
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooBig(max_bytes)
            pending += chunk
            if len(pending) >= BLOCK:
                await _write(spooled, bytes(pending))
                pending.clear()
        await _write(spooled, bytes(pending))
        spooled.seek(0)
        return spooled
    except BaseException:
        spooled.close()
        raise


async def _write(spooled: IO[bytes], data: bytes) -> None:
    # past SPOOL_MEMORY the file is on disk: keep the event loop free of its writes
    if spooled.tell() + len(data) > SPOOL_MEMORY:
        await asyncio.to_thread(spooled.write, data)
    else:
        spooled.write(data)


async def chunks_of(spooled: IO[bytes]) -> AsyncIterator[bytes]:
    """Read a spooled body back in blocks, off the event loop."""
    while True:
        block = await asyncio.to_thread(spooled.read, BLOCK)
        if not block:
            return
        yield block
