"""SIGTERM stops the worker cleanly, as deploy tools expect (SIGTERM, then SIGKILL after a grace
period): the task that is running finishes, the tasks the cluster had taken ahead of its workers
go back to the broker for another worker, nothing new is claimed, no process is left behind.
On both brokers, with the signal sent to the whole process group (honcho, systemd) or to the main
process only (docker stop, kill PID). And `serve_all` stops its web server and worker on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from outreach.models import WorkerHeartbeat
from review.models import Draft
from tests.anthropic_stub import AnthropicStub
from tests.qcluster import BASE_DIR, cluster_base_env, wait_until
from tests.sending.conftest import _free_port

from .test_worker_faults import _drafts_by_state, _request_drafts

pytestmark = [pytest.mark.postgres, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# The production default: the stop must come well inside it (the drafting call here takes 3 s).
TASK_TIMEOUT = 300


@pytest.mark.parametrize("to_group", [True, False], ids=["process-group", "main-process"])
def test_sigterm_lets_the_running_draft_finish_hands_the_rest_back_and_stops(rep, cluster, to_group):
    ids = _request_drafts(rep, 4)
    with AnthropicStub(latency=3.0) as stub:
        env = {
            "DRAFTING_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "x",
            "ANTHROPIC_BASE_URL": stub.url,
            "Q_WORKERS": "1",
        }
        c = cluster(**env).start()
        wait_until(lambda: WorkerHeartbeat.objects.exists(), what="the cluster's heartbeat")
        wait_until(lambda: Draft.objects.filter(pk__in=ids, state=Draft.State.DRAFTING).exists(), what="a draft")
        running = set(Draft.objects.filter(pk__in=ids, state=Draft.State.DRAFTING).values_list("pk", flat=True))

        c.signal(signal.SIGTERM, group=to_group)
        seconds = c.wait_for_exit(timeout=TASK_TIMEOUT)
        states = _drafts_by_state(ids)
        print(f"\n[SIGTERM to the {'group' if to_group else 'main process'}] stopped in {seconds:.1f} s; {states}")
        assert not c.processes_left(), "a worker process outlived the cluster"
        # The running draft was finished, not abandoned; nothing else was started.
        assert set(Draft.objects.filter(pk__in=ids, state=Draft.State.READY).values_list("pk", flat=True)) == running
        assert states.get("queued", 0) == len(ids) - len(running)
        assert len(stub.requests) == len(running)
        assert "prefetched tasks handed back" in c.output()
        # A clean stop says so at once: no heartbeat left to grow old.
        assert not WorkerHeartbeat.objects.exists()

        # The tasks it handed back are due at once: another cluster drafts them without any sweep.
        c2 = cluster(**env).start()
        wait_until(
            lambda: not Draft.objects.filter(pk__in=ids).exclude(state=Draft.State.READY).exists(),
            what="every draft to be ready",
        )
        c2.kill()
        assert len(stub.requests) == len(ids)
    assert all(d.versions.count() == 1 for d in Draft.objects.filter(pk__in=ids))


def test_serve_all_stops_web_and_worker_on_sigterm(transactional_db, tmp_path):
    port = _free_port()
    env = cluster_base_env(workers=1)
    log = tmp_path / "serve_all.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve_all", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def web_answers() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310 (loopback)
            except OSError:
                return False
            return True

        wait_until(web_answers, timeout=120, what="the web server")
        wait_until(lambda: WorkerHeartbeat.objects.exists(), timeout=120, what="the worker heartbeat")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        print(f"\n[serve_all SIGTERM] exit code {proc.returncode}")
        assert not web_answers()
        assert not WorkerHeartbeat.objects.exists(), log.read_text()

        def group_gone() -> bool:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return True
            return False

        # Its children may take a moment longer to exit on a busy machine; none may stay.
        wait_until(group_gone, timeout=60, what="serve_all's children to exit:\n" + log.read_text()[-2000:])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_procfile_runs_web_and_worker_under_honcho_and_both_stop_on_sigterm(transactional_db, tmp_path):
    """The deployment's two processes as the Procfile names them: gunicorn answers, the worker beats,
    /readyz is ready; SIGTERM to honcho stops both (the worker's heartbeat row goes with it)."""
    port = _free_port()
    bin_dir = os.path.dirname(sys.executable)
    env = {**cluster_base_env(workers=1), "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [os.path.join(bin_dir, "honcho"), "start", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:  # noqa: S310
                    return response.status == 200
            except OSError:
                return False

        wait_until(ready, timeout=120, what="/readyz through gunicorn with the worker running")
        assert "gunicorn" in log.read_text() or "Booting worker" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        output = log.read_text()
        print(f"\n[honcho SIGTERM] exit code {proc.returncode}")
        assert "Shutting down: Master" in output, output[-3000:]
        assert "cluster stopped: workers done" in output, output[-3000:]
        assert not WorkerHeartbeat.objects.exists()
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
