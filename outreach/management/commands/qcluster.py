"""`manage.py qcluster`: django-q2's worker cluster, with a graceful stop and a heartbeat.

It replaces django-q2's command of the same name (the `outreach` app comes before `django_q` in
INSTALLED_APPS). What it adds:

- **SIGTERM (or SIGINT) stops it cleanly within the task timeout**, whether the signal reaches
  only the main process (docker stop, kill PID) or the whole process group (honcho, systemd): only
  the main process acts on it. The cluster claims no new task; each worker finishes the task it
  is running; tasks the cluster had taken from the broker ahead of its workers are handed back
  (the ORM broker's lock is released, on Redis they are pushed back), so another worker runs them
  at once. A task still running when the timeout ends is killed; its row is the truth, and the
  sweepers finish the job (outreach/schedules.py).
- **A heartbeat row** (WorkerHeartbeat) written every few seconds and deleted on a clean stop:
  /readyz reports its age, so a stopped or stuck worker shows.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import time
from queue import Empty

from django import db
from django.conf import settings
from django.utils import timezone
from django_q import cluster as q_cluster
from django_q.brokers.orm import ORM
from django_q.management.commands.qcluster import Command as DjangoQCommand
from django_q.signing import SignedPackage
from django_q.status import Stat

from outreach.models import WorkerHeartbeat

logger = logging.getLogger("outreach.qcluster")
HEARTBEAT_SECONDS = 5


class GracefulSentinel(q_cluster.Sentinel):
    """django-q2's sentinel (it forks the pusher, the workers and the monitor), changed in two ways:
    it and every process it forks ignore SIGTERM, which the cluster's main process turns into an
    orderly stop; and that stop hands prefetched tasks back and is bounded by the task timeout."""

    pool: list

    def __init__(self, stop_event, start_event, cluster_id, broker=None, timeout=None, start=True):
        super().__init__(stop_event, start_event, cluster_id, broker, timeout, start=False)
        # Set before the pusher, workers and monitor are forked: they inherit it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if start:
            self.start()

    def stop(self) -> None:
        Stat(self).save()
        # 1. Claim nothing more: the pusher stops taking tasks from the broker. 2. Hand back what
        # it took ahead of the workers (while it may still be waiting for room to put one more).
        self.event_out.set()
        released = 0
        while self.pusher.is_alive():
            released += self._release_prefetched(wait=0.1)
        released += self._release_prefetched(wait=0.2)
        # 3. Each worker finishes its current task, then takes its poison pill.
        for _ in range(len(self.pool)):
            self.task_queue.put("STOP")
        self.task_queue.close()
        self.task_queue.join_thread()
        deadline = time.monotonic() + self.timeout
        while self.pool:
            for process in list(self.pool):
                if not process.is_alive():
                    self.pool.remove(process)
            if self.pool and time.monotonic() > deadline:
                for process in self.pool:
                    logger.warning("worker %s still busy after %ss: killed", process.pid, self.timeout)
                    process.kill()
                    process.join(5)
                self.pool = []
            time.sleep(0.1)
        # 4. The monitor records the last results, then stops.
        self.result_queue.put("STOP")
        self.result_queue.close()
        self.result_queue.join_thread()
        self.monitor.join(30)
        Stat(self).save()
        logger.info("cluster stopped: workers done, %d prefetched tasks handed back", released)

    def _release_prefetched(self, *, wait: float) -> int:
        released = 0
        while True:
            try:
                task = self.task_queue.get(timeout=wait)
            except Empty:
                return released
            if task == "STOP":
                continue
            try:
                if isinstance(self.broker, ORM):
                    # Due again now (its lock was "retry" seconds ahead): another cluster takes it.
                    self.broker.get_connection().filter(pk=task["ack_id"]).update(lock=timezone.now())
                else:
                    package = {k: v for k, v in task.items() if k not in ("ack_id", "cluster")}
                    self.broker.enqueue(SignedPackage.dumps(package))
                released += 1
            except Exception:  # the broker is down: the task's sweeper re-enqueues its row
                logger.exception("could not hand task %s back to the broker", task.get("name"))


def _beat(cluster, started_at) -> None:
    try:
        WorkerHeartbeat.objects.update_or_create(
            cluster_id=str(cluster.cluster_id),
            defaults={
                "host": socket.gethostname()[:255],
                "pid": os.getpid(),
                "broker": settings.Q_BROKER,
                "started_at": started_at,
                "seen_at": timezone.now(),
            },
        )
    except db.Error:  # the database is away for a moment: the next beat reconnects
        logger.warning("heartbeat not written (database unavailable)")
        db.connections.close_all()


class Command(DjangoQCommand):
    help = "Run the background worker cluster; SIGTERM stops it cleanly within Q_TASK_TIMEOUT."

    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018 (tasks are signed with it: fail now if it is missing)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        if settings.DRAFTING_PROVIDER == "anthropic":
            # Imported on first use elsewhere (outreach/drafting/providers.py); the workers fork
            # from this process, so importing it here once spares each worker the import.
            importlib.import_module("anthropic")
        q_cluster.Sentinel = GracefulSentinel
        cluster = q_cluster.Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        started_at = timezone.now()
        last_beat = 0.0
        # The main process's signal handler (django-q2's) runs cluster.stop(), which returns once
        # the sentinel has stopped everything; this loop then ends.
        while cluster.sentinel is not None and cluster.sentinel.is_alive():
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                _beat(cluster, started_at)
                last_beat = time.monotonic()
            time.sleep(0.5)
        try:
            WorkerHeartbeat.objects.filter(cluster_id=str(cluster.cluster_id)).delete()
        except db.Error:
            db.connections.close_all()
