"""The benchmark suite's one table: each benchmark adds rows "measure | value | target" through
the `bench_report` fixture; the table is printed once at the end of the session (`make bench`)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import pytest

from tests.browser.conftest import chromium  # noqa: F401  (the browser fixture, for bench_review_keyboard.py)


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    ok: bool | None = None


ROWS: list[Row] = []


class BenchReport:
    def add(self, measure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        row = Row(measure, value, target, ok)
        ROWS.append(row)
        print(f"  {_line(row)}")


def _line(row: Row) -> str:
    verdict = "" if row.ok is None else ("ok" if row.ok else "MISSED")
    return f"{row.measure:58} | {row.value:>28} | {row.target:>14} {verdict}"


@pytest.fixture(scope="session")
def bench_report() -> BenchReport:
    return BenchReport()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not ROWS:
        return
    from django.db import connection

    write = terminalreporter.write_line
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    terminalreporter.section("benchmarks")
    write(
        f"database {connection.vendor}; {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}; load average at the end {load:.1f}"
    )
    write(f"{'measure':58} | {'value':>28} | {'target':>14}")
    write("-" * 106)
    for row in ROWS:
        write(_line(row))
