"""Apps with their own settings over a small committed world, and a pool that counts its use."""
from __future__ import annotations

import pytest

from service.config import Settings

from ..api.conftest import TEST_SETTINGS, Api, CountingPool, make_token, start_api
from ..api.world import build_world
from ..live import steward_serve


@pytest.fixture(scope="module")
async def world_url(module_db_url: str) -> str:
    """This module's database with org `acme` (3 deployments, keys bot-000…) and `globex`."""
    await build_world(module_db_url, deployments=3)
    return module_db_url


@pytest.fixture(scope="module")
async def token(world_url: str) -> str:
    return await make_token(world_url, "acme")


@pytest.fixture(scope="module")
async def world(world_url: str):
    """The world's global IDs by type (acme's and the other tenant's) and an acme token of every scope."""
    from .fuzz import load_world
    return await load_world(world_url)


@pytest.fixture(scope="module")
async def apps(world_url: str):
    """`await apps(settings)` starts an app over the world; all are shut down with the module."""
    started = []

    async def start(settings: Settings | None = None) -> Api:
        api, lifespan = await start_api(world_url, settings or TEST_SETTINGS)
        api.app.state.pool = CountingPool(api.app.state.pool)
        started.append((api, lifespan))
        return api

    yield start
    for api, lifespan in started:
        await api.client.aclose()
        api.app.state.pool = api.app.state.pool.pool
        await lifespan.__aexit__(None, None, None)


@pytest.fixture(scope="module")
async def api(apps) -> Api:
    """An app with the default settings."""
    return await apps()


# Figures the closing note of issue 6 asks for, printed at the end of the run.
FIGURES: dict[str, object] = {}


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("hardening figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", ())]


@pytest.fixture(scope="module")
def live_server(world_url: str, tmp_path_factory):
    """`steward serve` in a process of its own on 127.0.0.1 and a free port, over this module's world."""
    with steward_serve(world_url, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base
