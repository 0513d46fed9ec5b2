"""Every task reaches the broker through `outreach.core.tasks.task_enqueue`: the one place that
survives a broker outage (logs and skips; the row's sweeper enqueues it again). Code that calls
django-q2's `async_task` (or `AsyncTask`, or a broker's `enqueue`) itself would fail its request
while Redis is down, so this test refuses it anywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("outreach", "review", "campaigns")
THE_HELPER = ROOT / "outreach" / "core" / "tasks.py"
# The worker's own command hands a task it had taken back to its broker on SIGTERM (not new work;
# a failure there is caught and left to the sweepers): the one other place that talks to a broker.
BROKER_LEVEL = {ROOT / "outreach" / "management" / "commands" / "qcluster.py"}
FORBIDDEN_NAMES = {"async_task", "AsyncTask", "async_chain", "async_iter", "Chain", "Iter"}


def direct_enqueues(source: str) -> list[str]:
    """What in this module reaches django-q2's enqueueing other than through the helper."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django_q"):
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES or alias.name == "tasks":
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("django_q.tasks"):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in {"async_task", "enqueue"}:
            # tasks.async_task(...), broker.enqueue(...)
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def _modules():
    for part in PARTS:
        for path in sorted((ROOT / part).rglob("*.py")):
            if "migrations" in path.parts or path == THE_HELPER or path in BROKER_LEVEL:
                continue
            yield path


def test_only_the_helper_hands_tasks_to_the_broker():
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in _modules()
        if (hits := direct_enqueues(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "enqueue through outreach.core.tasks.task_enqueue, not django-q2 directly"


def test_the_check_recognizes_each_way_of_enqueueing_directly():
    assert direct_enqueues("from django_q.tasks import async_task\nasync_task('f')")
    assert direct_enqueues("from django_q.tasks import AsyncTask")
    assert direct_enqueues("from django_q import tasks\ntasks.async_task('f')")
    assert direct_enqueues("import django_q.tasks\ndjango_q.tasks.async_task('f')")
    assert direct_enqueues("from django_q.brokers import get_broker\nget_broker().enqueue(b'x')")
    assert direct_enqueues("from outreach.core.tasks import task_enqueue\ntask_enqueue('f', 1)") == []


def test_the_helper_itself_is_where_django_q_is_called():
    assert direct_enqueues(THE_HELPER.read_text(encoding="utf-8"))


def test_the_worker_command_only_hands_taken_tasks_back():
    (path,) = BROKER_LEVEL
    assert [hit.split(": ", 1)[1] for hit in direct_enqueues(path.read_text(encoding="utf-8"))] == [".enqueue"]
