"""Figures the CLI tests measure (`steward serve --workers`), printed at the end of the run."""
from __future__ import annotations

FIGURES: dict[str, object] = {}


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("steward serve --workers figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
