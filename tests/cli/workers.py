"""`steward serve --workers N` in a process of its own, and what each worker says about itself on /metrics.

Every request goes out on a new connection, so the kernel hands it to whichever worker accepts
first: that is what a load balancer in front of the one port does too.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path
    db_url: str

    @property
    def output(self) -> str:
        return self.log.read_text()

    def client(self) -> httpx.AsyncClient:
        """A client that opens a new connection for every request (no keep-alive)."""
        return httpx.AsyncClient(base_url=self.base, timeout=10,
                                 limits=httpx.Limits(max_keepalive_connections=0))


@contextmanager
def steward_serve(env: dict[str, str], log: Path, *args: str) -> Iterator[Server]:
    """`steward serve ARGS` with `env` on a free port; yields once /readyz answers 200, kills it if still up."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env | {
        "STEWARD_HOST": "127.0.0.1", "STEWARD_PORT": str(port)}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", *args], cwd=ROOT, env=environ,
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log, env.get("DATABASE_URL", ""))
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"steward serve did not start:\n{server.output[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (sample name, labels) -> value


def parse(text: str) -> tuple[int, Scrape]:
    """The pid of the worker that answered, and its samples."""
    samples: Scrape = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    [pid] = [int(dict(labels)["pid"]) for name, labels in samples if name == "steward_worker_info"]
    return pid, samples


async def scrape_each(server: Server, workers: int = 2, timeout: float = 20) -> dict[int, Scrape]:
    """A /metrics scrape of every worker, each taken after this call began."""
    found: dict[int, Scrape] = {}
    deadline = time.monotonic() + timeout
    async with server.client() as http:
        while len(found) < workers:
            assert time.monotonic() < deadline, f"only workers {sorted(found)} answered /metrics"
            # a few at once: a busy worker leaves the next connection to the other one
            for response in await asyncio.gather(*(http.get("/metrics") for _ in range(4))):
                pid, samples = parse(response.text)
                found[pid] = samples
    return found


def graphql_requests(scrapes: dict[int, Scrape], operation: str) -> dict[int, int]:
    """GraphQL requests of `operation` each worker served."""
    served: dict[int, int] = defaultdict(int)
    for pid, samples in scrapes.items():
        served[pid] += 0
        for (name, labels), value in samples.items():
            if name == "steward_graphql_requests_total" and dict(labels)["operation"] == operation:
                served[pid] += int(value)
    return dict(served)


def gauge(scrapes: dict[int, Scrape], name: str) -> dict[int, float]:
    return {pid: samples.get((name, ()), 0.0) for pid, samples in scrapes.items()}
