"""Consistency tokens, WAL page headers, the lag arithmetic and the replica settings, without a server."""
from __future__ import annotations

import pytest

from service.config import ConfigError, Settings
from service.db.lag import PrimaryHistory, WalGeometry, format_lsn, parse_lsn
from service.db.replicas import display_name


@pytest.mark.parametrize("text, lsn", [("0/0", 0), ("0/3000148", 0x3000148), ("16/B374D848", 0x16_B374D848),
                                       ("FFFFFFFF/FFFFFFFF", 2**64 - 1), (" 0/1a ", 0x1A)])
def test_a_token_is_an_lsn_as_postgresql_writes_it(text, lsn):
    assert parse_lsn(text) == lsn
    assert parse_lsn(format_lsn(lsn)) == lsn


@pytest.mark.parametrize("text", ["", "0", "/1", "0/", "1/2/3", "G/1", "0/123456789", "123456789/0", "-1/0",
                                  "0x1/0", "0/1\n0/2", "0/1;drop", "１/２"])
def test_anything_else_is_not_a_token(text):
    assert parse_lsn(text) is None


def test_a_page_header_nothing_follows_is_not_waited_for():
    wal = WalGeometry(block=8192, segment=16 * 1024 * 1024)
    assert wal.record_end(5 * 8192 + 24) == 5 * 8192  # an empty page after a record ending at its start
    assert wal.record_end(3 * wal.segment + 40) == 3 * wal.segment  # the long header of a segment's first page
    assert wal.record_end(5 * 8192 + 80) == 5 * 8192 + 80  # a record on the page
    assert wal.record_end(5 * 8192 + 32) == 5 * 8192 + 32


def test_a_replica_that_replayed_the_latest_reading_lags_by_the_moments_since_however_old_the_last_write():
    history = PrimaryHistory()
    history.add(100, at=0.0)
    history.add(100, at=3600.0)  # an hour without a write
    assert history.lag_ms(100, now=3600.002) == pytest.approx(2)
    assert history.lag_ms(120, now=3600.002) == pytest.approx(2)


def test_lag_is_the_time_since_the_replica_last_had_everything():
    history = PrimaryHistory()
    for at, lsn in [(0.0, 100), (0.25, 100), (0.5, 200), (0.75, 300)]:
        history.add(lsn, at=at)
    assert history.lag_ms(250, now=0.8) == pytest.approx(300)  # had all of 200 (0.5 s), not 300
    assert history.lag_ms(100, now=0.8) == pytest.approx(550)  # last had everything at the 0.25 s reading
    assert history.lag_ms(50, now=0.8) is None  # behind every reading kept: unknown here


def test_old_readings_are_dropped():
    history = PrimaryHistory(keep_s=10)
    history.add(1, at=0.0)
    history.add(2, at=20.0)
    assert history.lag_ms(1, now=20.0) is None and history.latest == 2


def test_replica_settings():
    env = {"DATABASE_URL": "postgresql://steward@primary/steward",
           "STEWARD_REPLICA_URLS": " postgresql://steward@r1/steward, postgres://r2:6432/steward ,",
           "STEWARD_REPLICA_MAX_LAG_MS": "250"}
    replicas = Settings.from_env(env).replicas
    assert replicas.urls == ("postgresql://steward@r1/steward", "postgres://r2:6432/steward")
    assert replicas.max_lag_ms == 250 and replicas.check_interval_s == 0.25
    assert Settings.from_env({}).replicas.urls == ()
    assert display_name("postgresql://user:secret@r1.internal:6432/steward") == "r1.internal:6432/steward"


@pytest.mark.parametrize("env, message", [
    ({"STEWARD_REPLICA_URLS": "postgresql://r1/steward"}, "needs DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://p/s", "STEWARD_REPLICA_URLS": "r1:5432"}, "postgresql:// URLs"),
    ({"DATABASE_URL": "postgresql://p/s", "STEWARD_REPLICA_URLS": "postgresql://r/s,postgresql://r/s"}, "twice"),
    ({"DATABASE_URL": "postgresql://p/s", "STEWARD_REPLICA_MAX_LAG_MS": "soon"}, "must be an integer"),
    ({"DATABASE_URL": "postgresql://p/s", "STEWARD_REPLICA_MAX_LAG_MS": "-1"}, "between"),
])
def test_bad_replica_settings_stop_the_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
