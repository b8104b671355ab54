"""The gap ledger of the demo's reference deployments, as `steward demo` prints it."""
from __future__ import annotations

from service.db.pool import connection
from service.sql_files import load

SQL = load("schema.ownership", "gaps.sql")
REFERENCE_DEPLOYMENTS = ("lumen-beauty/concierge", "harbor-home/assistant", "northwind-outfitters/helpdesk")


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def ledger_lines(rows) -> list[str]:
    """One line per gap: when, after whom, ARR before / during / latest, resolutions lost and their cost."""
    lines, reasons = [], {}
    for r in rows:
        ended = "open" if r["ended_at"] is None else f"to {r['ended_at']:%Y-%m-%d}"
        after = f"after {r['previous_person_name']}" if r["previous_person_name"] else "from launch"
        lost = "-" if r["resolutions_lost"] is None else f"{r['resolutions_lost']:,.0f}"
        cost = "-" if r["estimated_cost"] is None else f"{r['estimated_cost']:,.0f}"
        lines.append(f"  {r['deployment']:<31} {r['started_at']:%Y-%m-%d} {ended:<13} {after:<20}"
                     f" {float(r['duration_days']):>6.1f} d  ARR {_pct(r['baseline_arr'])} → {_pct(r['during_arr'])}"
                     f" (latest 4 weeks {_pct(r['latest_arr'])}), lost {lost}, cost {cost}")
        if r["arr_reasons"]:
            reasons[r["deployment"]] = r["arr_reasons"]
    return lines + [f"  {dep}: {text}" for dep, text in reasons.items()]


async def print_gap_ledger(url: str) -> None:
    """Print the ownership gaps of the reference deployments (metrics.ownership_gaps) and their ARR reasons."""
    async with connection(url) as conn:
        rows = await conn.fetch(SQL["reference_gaps"], list(REFERENCE_DEPLOYMENTS))
    print("Ownership gaps (baseline: 4 weeks before; lost: resolutions over the gap; cost: lost × escalation cost):")
    print("\n".join(ledger_lines(rows)))
