"""Which of the service's statements name their organization (what Citus' router planner needs).

    .venv/bin/python -m bench.statements

Reads every named statement (`-- name: …`) of the .sql files under schema/ and service/ and sorts
the ones that touch a distributed table (docs/scale-out.md), directly or through metrics.* /
internals.*, into:

* org_id = $n: an explicit equality on org_id with a parameter (a WHERE filter, or the org_id value
  of an INSERT … VALUES / SELECT $n): Citus can route it to one shard;
* RLS only: the organization comes only from the row-level security policy
  (org_id = steward.current_org_id()), which Citus can't prune with: a multi-shard statement;
* cross-organization: the owner (CLI, demo, migrations) or the webhook worker, across organizations
  by design.

A text heuristic, reviewed by hand for docs/scale-out.md; prints Markdown.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALE_OUT = ROOT / "docs" / "scale-out.md"
CROSS_ORG = ("service/demo/", "service/db/migrate.sql", "service/events/webhook_worker.sql")
EXPLICIT = re.compile(r"\borg_id\s*=\s*\$\d|\borg_id\s*=\s*any\s*\(\s*\$\d"
                      r"|insert\s+into\s+steward\.\w+\s*\(\s*org_id\b[^;]*?\b(?:values\s*\(|select)\s*\$\d",
                      re.I | re.S)


def statements() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted([*ROOT.glob("schema/**/*.sql"), *ROOT.glob("service/**/*.sql")]):
        parts = re.split(r"^-- name: (\S+)\s*$", path.read_text(), flags=re.M)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("--"))
            found.append((str(path.relative_to(ROOT)), name, code))
    return found


def classify() -> list[tuple[str, str, str, str]]:
    tables = [t.split(".")[1] for t in re.findall(r"select create_distributed_table\('([a-z_.]+)'",
                                                  SCALE_OUT.read_text())]
    rows = []
    for path, name, code in statements():
        touched = sorted({t for t in tables if re.search(rf"steward\.{t}\b", code)})
        if re.search(r"\b(metrics|internals)\.", code):
            touched.append("metrics.*")
        if not touched:
            continue
        if path.startswith(CROSS_ORG):
            kind = "cross-organization"
        elif EXPLICIT.search(code):
            kind = "org_id = $n"
        else:
            kind = "RLS only"
        rows.append((path, name, ", ".join(touched), kind))
    return rows


def main() -> int:
    rows = classify()
    print("| file | statement | tables | organization |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    counts = {k: sum(1 for r in rows if r[3] == k) for k in ("org_id = $n", "RLS only", "cross-organization")}
    print()
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" (of {len(rows)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
