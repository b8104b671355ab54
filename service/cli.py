"""steward serve | migrate | demo | import | org | token | bi-login | documents"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from service import orgs
from service.cli_support import database, say
from service.config import MAX_WORKERS, ConfigError, Settings
from service.db.migrate import MONTHS_AHEAD, MigrationError, migrate
from service.db.pool import connection
from service.ingest.cli import add_parser as add_import_parser
from service.ingest.cli import cmd_import


async def _migrate(url: str, months_ahead: int = MONTHS_AHEAD) -> None:
    async with connection(url) as conn:
        report = await migrate(conn, months_ahead)
    applied = ", ".join(report.applied) or "none"
    created = f"; partitions created: {', '.join(report.partitions_created)}" if report.partitions_created else ""
    say(f"steward: migrations applied: {applied}; views {'rebuilt' if report.views_rebuilt else 'current'}{created}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as url:
        asyncio.run(_migrate(url, settings.partition_months_ahead))
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from service.demo.figures import print_reference_figures
    from service.demo.gaps import print_gap_ledger
    from service.demo.load import load_demo

    with database(settings) as url:
        asyncio.run(_migrate(url, settings.partition_months_ahead))
        summary = asyncio.run(load_demo(url))
        say(summary)
        asyncio.run(print_reference_figures(url))
        asyncio.run(print_gap_ledger(url))
        tokens = asyncio.run(_demo_tokens(url, REFERENCE_ORGS))
    base = public_url(settings.host, settings.port)
    print("\nAPI tokens (shown once, stored hashed; loading the demo again replaces them):")
    print(orgs.table(("id", "organization", "kind", "scopes", "token"), tokens))
    # The token rides in the URL fragment, which browsers never send: it reaches no server or log.
    print("\nGraphiQL (after `steward serve`), signed in with each organization's read token:")
    for _token_id, slug, kind, _scopes, token in tokens:
        if kind == "read":
            print(f"  {slug:<22} {base}/graphql#token={token}")
    print(f"\nTry: curl -s {base}/graphql -H 'content-type: application/json'"
          " -H 'authorization: Bearer <a read token>'"
          " -d '{\"query\": \"{ deployments { edges { node { key owner { name } health { status } } } } }\"}'")
    return 0


def public_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches `steward serve` (a wildcard address is not one to open)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


# The organizations of the reference figures, and the tokens `steward demo` prints for each.
REFERENCE_ORGS = ("lumen-beauty", "harbor-home", "northwind-outfitters")
DEMO_TOKENS = (("read", "read"), ("write", "read,write:owners,write:activity"))


async def _demo_tokens(url: str, slugs: tuple[str, ...]) -> list[tuple[int, str, str, str, str]]:
    """A read token and a write token for each demo organization: (id, slug, kind, scopes, token)."""
    from service.auth import create_token

    tokens = []
    async with connection(url) as conn:
        for slug in slugs:
            for kind, scopes in DEMO_TOKENS:
                token_id, token = await create_token(conn, slug, scopes.split(","), f"demo-{kind}")
                tokens.append((token_id, slug, kind, scopes, token))
    return tokens


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from service.logs import configure_logging

    configure_logging(settings.log_level)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again; with
    # the default handler that would kill the process before the embedded
    # PostgreSQL is stopped, so make it an ordinary exit that unwinds `database()`.
    # (With workers, uvicorn's supervisor takes SIGTERM over once it runs: it stops
    # the workers, waits for them, and returns here, and `database()` unwinds.)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with database(settings) as url:
        asyncio.run(_check_current(url))
        workers = f" with {args.workers} worker processes" if args.workers > 1 else ""
        say(f"steward: serving GraphQL on http://{args.host}:{args.port}/graphql{workers}")
        options: dict[str, Any] = dict(
            host=args.host, port=args.port, log_config=None, access_log=False, proxy_headers=True,
            timeout_graceful_shutdown=10, ws_max_size=settings.max_body_bytes)  # a subscribe message: body limit
        if args.workers > 1:
            return _serve_workers(url, args.workers, options)
        import uvicorn

        from service.app import create_app

        # workers=1 explicitly: uvicorn would otherwise read WEB_CONCURRENCY
        uvicorn.run(create_app(settings, url), workers=1, **options)
    return 0


def _serve_workers(url: str, workers: int, options: dict[str, Any]) -> int:
    """`workers` processes accepting on one socket, under uvicorn's supervisor (which restarts a worker that
    dies); returns when SIGTERM or SIGINT has stopped them all, or when one could not start (3)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from service.app import WORKER_DATABASE_URL

    os.environ[WORKER_DATABASE_URL] = url  # the workers are spawned with this environment
    config = uvicorn.Config("service.app:app_from_env", factory=True, workers=workers, **options)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        say("steward: a worker process failed to start (its log is above); all workers stopped")
        return STARTUP_FAILURE
    say(f"steward: {workers} worker processes stopped")
    return 0


def worker_count(raw: str) -> int:
    """`--workers`: an integer from 1 to MAX_WORKERS."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {raw!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {value}")
    return value


async def _check_current(url: str) -> None:
    """Refuse to serve a database whose migrations are behind the code."""
    from service.db.migrate import pending

    async with connection(url) as conn:
        todo, views_stale = await pending(conn)
    if todo or views_stale:
        raise MigrationError("the database is not migrated to this version: run `steward migrate` first")


def on_database(settings: Settings, work: Callable[[str, asyncpg.Connection], Awaitable[None]]) -> int:
    """Run `work(url, connection)` on one owner connection to the database (embedded or DATABASE_URL)."""
    async def run(url: str) -> None:
        async with connection(url) as conn:
            await work(url, conn)

    with database(settings) as url:
        asyncio.run(run(url))
    return 0


async def _token(url: str, conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    from service.auth import create_token, revoke_token

    if args.action == "create":
        token_id, token = await create_token(conn, args.org, args.scopes.split(","), args.name)
        print(token)
        say(f"steward: token {token_id} for {args.org} with scopes {args.scopes}: shown once, stored hashed")
    elif args.action == "list":
        await orgs.run_token_list(conn, args.org)
    elif not await revoke_token(conn, args.id):
        raise LookupError(f"no active token with id {args.id}")
    else:
        say(f"steward: token {args.id} revoked")


async def _documents(url: str, conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    from service.http.documents import import_manifest, list_documents

    if args.action == "import":
        inserted, existing = await import_manifest(conn, Path(args.file))
        say(f"steward: {inserted} document(s) registered, {existing} already registered, from {args.file}")
    else:
        for row in await list_documents(conn):
            print(f"{row['id']}\t{row['sha256']}\t{row['operation_name'] or '-'}\t{row['bytes']} bytes\t"
                  f"{row['source']}\t{row['imported_at']:%Y-%m-%d %H:%M}")


def connection_parameters(url: str, user: str) -> str:
    """Where a BI tool connects: the server and database of `url`, as `user`."""
    parts = urlsplit(url)
    database_name = parts.path.lstrip("/") or "(as in DATABASE_URL)"
    return (f"host={parts.hostname or '(as in DATABASE_URL)'} port={parts.port or 5432}"
            f" dbname={database_name} user={user}")


async def _bi_login(url: str, conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    from service.bi_logins import create_bi_login, list_bi_logins, revoke_bi_login

    try:
        if args.action == "create":
            password = await create_bi_login(conn, args.org, args.name)
            print(password)
            say(f"steward: BI login {args.name} reads {args.org} only; password (above) shown once, stored as"
                f" a SCRAM verifier; connect with {connection_parameters(url, args.name)}")
        elif args.action == "revoke":
            outcome = await revoke_bi_login(conn, args.name)
            say(f"steward: BI login {args.name} revoked: {outcome}")
        else:
            logins = await list_bi_logins(conn, args.org)
            for login in logins:
                state = "active" if login.can_login else ("disabled" if login.role_exists else "role missing")
                print(f"{login.name:<32} {login.org_slug:<24} {login.created_at:%Y-%m-%d %H:%M}Z  {state}")
            if not logins:
                say("steward: no BI logins")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise ValueError(f"the database user cannot manage logins: {exc}") from exc


async def _org(url: str, conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    await orgs.run_org(conn, args)


# Commands that run on one connection: (url, connection, args) -> None.
ON_DATABASE = {"token": _token, "documents": _documents, "bi-login": _bi_login, "org": _org}
COMMANDS = {"migrate": cmd_migrate, "demo": cmd_demo, "serve": cmd_serve, "import": cmd_import}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steward", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations and rebuild changed views")
    sub.add_parser("demo", help="migrate, load the demo data set and print the reference figures")
    add_import_parser(sub)
    serve = sub.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default=None, help="interface to listen on (default STEWARD_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default STEWARD_PORT or 8000)")
    serve.add_argument("--workers", type=worker_count, default=None, metavar="N",
                       help=f"processes serving the one port, 1 to {MAX_WORKERS} (default STEWARD_WORKERS or 1)")
    orgs.add_org_parser(sub)
    token = sub.add_parser("token", help="create, list or revoke API tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--org", required=True, help="organization slug")
    create.add_argument("--scopes", default="read", help="comma-separated: read,write:owners,write:activity,admin")
    create.add_argument("--name", default="cli", help="a label for the token")
    orgs.add_token_list_parser(actions)
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int, help="token id")
    documents = sub.add_parser("documents", help="trusted documents (for STEWARD_TRUSTED_DOCUMENTS=only)")
    doc_actions = documents.add_subparsers(dest="action", required=True)
    doc_import = doc_actions.add_parser("import", help="register the documents of a Relay persisted_queries.json "
                                                       "or an Apollo persisted query manifest")
    doc_import.add_argument("file", help="the manifest (JSON)")
    doc_actions.add_parser("list", help="list registered documents")
    bi = sub.add_parser("bi-login", help="PostgreSQL logins for BI tools, each pinned to one organization")
    bi_actions = bi.add_subparsers(dest="action", required=True)
    bi_create = bi_actions.add_parser("create", help="create a login in bi_reader and print its password (shown once)")
    bi_create.add_argument("--org", required=True, help="organization slug")
    bi_create.add_argument("--name", required=True, help="login name: a-z, 0-9 and _, starting with a letter")
    bi_revoke = bi_actions.add_parser("revoke", help="remove a login's organization and drop the login")
    bi_revoke.add_argument("name", help="login name")
    bi_list = bi_actions.add_parser("list", help="list BI logins")
    bi_list.add_argument("--org", default=None, help="only this organization")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            args.host = args.host or settings.host
            args.port = args.port or settings.port
            args.workers = args.workers or settings.workers
        if args.command in ON_DATABASE:
            work = ON_DATABASE[args.command]
            return on_database(settings, lambda url, conn: work(url, conn, args))
        return COMMANDS[args.command](settings, args)
    except (ConfigError, MigrationError, LookupError, ValueError) as exc:
        say(f"steward: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
