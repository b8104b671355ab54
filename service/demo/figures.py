"""The reference figures, read from the metric views for today, as `steward demo` prints them."""
from __future__ import annotations

import asyncpg

from service.db.pool import connection
from service.demo.dataset import DEMO_SLUGS
from service.sql_files import load

SQL = load("service.demo", "figures.sql")


async def reference_figures(conn: asyncpg.Connection) -> dict:
    """The reference figures (README: `steward demo`), read from the metric views for today."""
    row = await conn.fetchrow(SQL["reference_figures"], list(DEMO_SLUGS))
    return dict(row)


async def print_reference_figures(url: str) -> None:
    """Print the reference figures as the views report them."""
    async with connection(url) as conn:
        f = await reference_figures(conn)
    print(f"Reference figures for {f['today']} (UTC; AI resolutions reopened within {f['reopen_window_hours']} h"
          " do not count):")
    print(f"  lumen-beauty/concierge          workflow updates, last 30 days: {f['lumen_updates_30d']}"
          f", most in 7 days: {f['lumen_peak_week']}")
    print(f"  harbor-home/assistant           owner left, nobody named; ARR last 4 weeks:"
          f" {f['harbor_arr_4w'] * 100:.2f}% ({f['harbor_ai_resolved_4w']} of {f['harbor_addressable_4w']})")
    print(f"  northwind-outfitters/helpdesk   no owner for {f['northwind_unowned_weeks']} weeks: weekly ARR"
          f" {f['northwind_weekly_arr_min'] * 100:.0f}% to {f['northwind_weekly_arr_max'] * 100:.0f}%")
    print(f"  northwind-outfitters/helpdesk   owner named {f['northwind_owner_days']} days ago; ARR last 4 weeks:"
          f" {f['northwind_arr_4w'] * 100:.1f}%")
    print(f"  owners (demo organizations)     FTE on AI: {f['owner_fte_min']:.1f} to {f['owner_fte_max']:.1f}"
          f" ({f['owners_outside_cx']} outside CX)")
