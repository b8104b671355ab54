"""The container image, checked by reading the Dockerfile (no Docker engine here) and running its pieces."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        keyword, _, rest = current.strip().partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


def of(kind: str) -> list[str]:
    return [args for keyword, args in instructions() if keyword == kind]


def position(predicate) -> int:
    return next(i for i, step in enumerate(instructions()) if predicate(*step))


def test_slim_python_base():
    [base] = of("FROM")
    assert base.startswith("python:3.11-slim")


def test_runs_as_a_non_root_user():
    users = of("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert position(lambda k, a: k == "USER") > max(i for i, (k, _) in enumerate(instructions()) if k == "RUN")


def test_dependencies_come_from_the_lock_in_a_layer_of_their_own():
    copy_lock = position(lambda k, a: k == "COPY" and a.split()[0] == "requirements.lock")
    install = position(lambda k, a: k == "RUN" and "-r requirements.lock" in a)
    first_source = position(lambda k, a: k == "COPY" and any(s in a.split()[:-1] for s in ("service", "schema")))
    assert copy_lock < install < first_source
    assert of("COPY")[0].split() == ["requirements.lock", "./"]


def test_every_copied_path_exists():
    for args in of("COPY"):
        for source in shlex.split(args)[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_serve_is_the_entrypoint_and_requires_database_url():
    assert json.loads(of("ENTRYPOINT")[0]) == ["steward"]
    assert json.loads(of("CMD")[0]) == ["serve"]
    env = " ".join(of("ENV"))
    assert "STEWARD_REQUIRE_DATABASE_URL=1" in env and "STEWARD_HOST=0.0.0.0" in env


def healthcheck_command() -> list[str]:
    [healthcheck] = of("HEALTHCHECK")
    return json.loads(healthcheck[healthcheck.index("CMD") + 3:].strip())


def test_healthcheck_asks_healthz_with_python():
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]


def test_healthcheck_command_passes_against_a_live_server_and_fails_without_one(live_server):
    python_code = healthcheck_command()[2]
    port = live_server.rsplit(":", 1)[1]
    ok = subprocess.run([sys.executable, "-c", python_code], env=os.environ | {"STEWARD_PORT": port},
                        capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([sys.executable, "-c", python_code], env=os.environ | {"STEWARD_PORT": "1"},
                          capture_output=True, timeout=30)
    assert down.returncode != 0


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_commands_refuse_to_start_without_database_url_in_the_image(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"STEWARD_REQUIRE_DATABASE_URL": "1", "STEWARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "service.cli", command], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "DATABASE_URL is required" in result.stderr
    assert not (tmp_path / "pgdata").exists()  # no embedded cluster was started


def test_dockerignore_keeps_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".steward"} <= set(ignored)
