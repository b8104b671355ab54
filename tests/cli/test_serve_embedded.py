"""End to end: `steward serve` on its embedded PostgreSQL, stopped cleanly by SIGTERM."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

STEWARD = str(Path(sys.executable).with_name("steward"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_and_stops_its_embedded_postgres(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"STEWARD_DATA_DIR": str(tmp_path / "data"), "STEWARD_EMBEDDED_PORT": str(free_port()),
            "STEWARD_PORT": str(free_port())}
    subprocess.run([STEWARD, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([STEWARD, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{env['STEWARD_PORT']}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "steward serve did not become ready"
            time.sleep(0.2)

        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    finally:
        if server.poll() is None:
            server.kill()

    assert server.returncode == 0, output
    assert "stopped embedded PostgreSQL" in output
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
