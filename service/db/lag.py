"""WAL positions (LSNs) as consistency tokens, and a replica's replay lag measured against the primary's WAL.

An LSN is a byte position in the WAL: PostgreSQL writes it `X/Y` (two hex halves of a 64-bit number),
asyncpg reads and writes `pg_lsn` as an int. The consistency token is that text.
"""
from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass

TOKEN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")

# The page headers of the WAL (PostgreSQL's SizeOfXLogShortPHD and SizeOfXLogLongPHD).
SHORT_PAGE_HEADER = 24
LONG_PAGE_HEADER = 40


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int | None:
    """The LSN `X/Y` as an int, or None when `text` is not one."""
    match = TOKEN.fullmatch(text.strip())
    if match is None:
        return None
    return int(match[1], 16) << 32 | int(match[2], 16)


@dataclass(frozen=True)
class WalGeometry:
    """The primary's WAL page and segment sizes (`wal_block_size`, `wal_segment_size`)."""

    block: int = 8192
    segment: int = 16 * 1024 * 1024

    def record_end(self, insert_lsn: int) -> int:
        """The end of the last record written before `insert_lsn`.

        `pg_current_wal_insert_lsn()` points past the header of a page nothing has been written to yet,
        while a standby's `pg_last_wal_replay_lsn()` stops at the end of the last record it replayed, the
        page's start: without this, a primary gone idle right at a page boundary would leave every replica
        one header short of every token and lagging forever.
        """
        if insert_lsn % self.segment == LONG_PAGE_HEADER:
            return insert_lsn - LONG_PAGE_HEADER
        if insert_lsn % self.block == SHORT_PAGE_HEADER:
            return insert_lsn - SHORT_PAGE_HEADER
        return insert_lsn


class PrimaryHistory:
    """Recent readings of the primary's WAL position, each with when it was taken (monotonic clock).

    A replica's lag is how long ago the primary had flushed WAL the replica has not replayed yet, bounded from
    above by the readings: the time since the newest reading the replica has fully replayed. A replica that
    replayed the latest reading is behind by at most the moments between that reading and its own (an idle
    primary leaves a caught-up replica near 0, not at the age of the last commit).
    """

    def __init__(self, keep_s: float = 600.0):
        self.keep_s = keep_s
        self._readings: deque[tuple[float, int]] = deque()

    def add(self, lsn: int, at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        self._readings.append((at, lsn))
        while self._readings and self._readings[0][0] < at - self.keep_s:
            self._readings.popleft()

    @property
    def latest(self) -> int | None:
        return self._readings[-1][1] if self._readings else None

    def lag_ms(self, replayed: int, now: float | None = None) -> float | None:
        """The lag of a replica that has replayed up to `replayed`; None before the first reading, or when the
        replica is behind every reading kept (how far behind is then unknown: the caller uses the replica's
        own clock)."""
        now = time.monotonic() if now is None else now
        for at, lsn in reversed(self._readings):
            if lsn <= replayed:
                return max(0.0, (now - at) * 1000)
        return None
