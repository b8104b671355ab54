"""`steward serve` in a process of its own, for tests that need a real server (a browser, a shell script)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def steward_serve(db_url: str, log: Path, **env: str) -> Iterator[str]:
    """Serve the database at `db_url` on 127.0.0.1 and a free port; yields the base URL. Output goes to `log`;
    `env` adds environment variables (settings) to the server's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"DATABASE_URL": db_url, "STEWARD_PORT": str(port), "STEWARD_HOST": "127.0.0.1"} | env
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"steward serve did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
