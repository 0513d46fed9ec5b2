"""Load scenario: reviewers working the queue through the htmx endpoints, API clients enrolling.

Run by tests/load/run_load.py, which seeds the accounts this file reads from the environment:
LOAD_PASSWORD, LOAD_REVIEWERS (comma-separated usernames), LOAD_API_TOKENS (comma-separated bearer
tokens, may be empty), LOAD_SEQUENCE_ID, LOAD_REVIEWER_USERS and LOAD_API_USERS (how many of each), LOAD_DECISIONS_LOG (a file: one "action draft_id" line per
decision the server accepted, read back to prove no decision was lost).
"""

from __future__ import annotations

import html
import itertools
import os
import random
import re
import threading
import uuid

from locust import HttpUser, between, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "")
REVIEWERS = [u for u in os.environ.get("LOAD_REVIEWERS", "").split(",") if u]
TOKENS = [t for t in os.environ.get("LOAD_API_TOKENS", "").split(",") if t]
SEQUENCE_ID = os.environ.get("LOAD_SEQUENCE_ID", "")  # seq_…, the public id
DECISIONS_LOG = os.environ.get("LOAD_DECISIONS_LOG", "")
# Every Nth decision the reviewer goes back to the full queue page (0: only at the start), so the
# page is measured at steady state, not only during the login burst.
QUEUE_EVERY = int(os.environ.get("LOAD_QUEUE_EVERY", "0"))

_reviewer_ids = itertools.count()
_token_ids = itertools.count()
_log_lock = threading.Lock()

DRAFT = re.compile(r'data-draft-id="(\d+)" data-version="(\d+)"')
SUBJECT = re.compile(r'name="subject" value="([^"]*)"')
BODY = re.compile(r'<textarea id="edit-body" name="body_text"[^>]*>(.*?)</textarea>', re.S)
REJECT_REASONS = ["wrong_facts", "tone", "not_relevant", "bad_timing", "other"]


def _record(action: str, draft_id: str) -> None:
    if DECISIONS_LOG:
        with _log_lock, open(DECISIONS_LOG, "a") as log:
            log.write(f"{action} {draft_id}\n")


class Reviewer(HttpUser):
    """A rep working their own queue: open the queue, then decide draft after draft; each decision's
    response is the next draft (as in the browser), and the counts refresh after it."""

    fixed_count = int(os.environ.get("LOAD_REVIEWER_USERS", "50"))
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.username = REVIEWERS[next(_reviewer_ids) % len(REVIEWERS)]
        self.client.get("/login/", name="GET /login/")
        response = self.client.post(
            "/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
            allow_redirects=False,
            name="POST /login/",
        )
        if response.status_code != 302:
            response.failure(f"login refused for {self.username}: {response.status_code}")
        self.current: tuple[str, str, str, str] | None = None
        self.decisions = 0
        self.open_queue()

    def _htmx(self, target: str) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Target": target, "X-CSRFToken": self.client.cookies.get("csrftoken", "")}

    def _read(self, page: str) -> None:
        found = DRAFT.search(page)
        if not found:
            self.current = None
            return
        subject = SUBJECT.search(page)
        body = BODY.search(page)
        self.current = (
            found.group(1),
            found.group(2),
            html.unescape(subject.group(1)) if subject else "",
            html.unescape(body.group(1)) if body else "",
        )

    def open_queue(self) -> None:
        response = self.client.get("/review/", name="GET /review/ (queue page)")
        self._read(response.text)
        if self.current:
            # Open the draft the queue shows, as a click on the list does.
            response = self.client.get(
                f"/review/drafts/{self.current[0]}/",
                headers=self._htmx("detail"),
                name="GET /review/drafts/[id]/ (htmx)",
            )
            self._read(response.text)

    @task
    def decide(self) -> None:
        if self.current is None:
            self.open_queue()
            return
        draft_id, version, subject, body = self.current
        roll = random.random()
        if roll < 0.6:
            action, url, data = "approve", f"/review/drafts/{draft_id}/approve/", {"version": version}
        elif roll < 0.85:
            action, url = "edit_approve", f"/review/drafts/{draft_id}/edit/"
            data = {
                "version": version,
                "subject": subject,
                "body_text": body + "\n\nHappy to walk you through it.",
                "cc": "",
                "bcc": "",
            }
        else:
            action, url = "reject", f"/review/drafts/{draft_id}/reject/"
            data = {"version": version, "reason": random.choice(REJECT_REASONS), "note": "load test"}
        with self.client.post(
            url, data=data, headers=self._htmx("detail"), name=f"POST {action} (htmx)", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(
                    f"{action} draft {draft_id}: {response.status_code} {response.error or response.text[:200]}"
                )
                self.current = None
                return
            _record(action, draft_id)
            self._read(response.text)
        # The page refreshes its counts on the draftDecided event.
        self.client.get("/review/", headers=self._htmx("queue-counts"), name="GET /review/ (counts, htmx)")
        self.decisions += 1
        if QUEUE_EVERY and self.decisions % QUEUE_EVERY == 0:
            self.open_queue()


class ApiClient(HttpUser):
    """An integration enrolling new contacts into a sequence through /v1/."""

    fixed_count = int(os.environ.get("LOAD_API_USERS", "5"))
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.token = TOKENS[next(_token_ids) % len(TOKENS)] if TOKENS else ""

    @task
    def enroll(self) -> None:
        if not self.token or not SEQUENCE_ID:
            return
        address = f"api-{uuid.uuid4().hex[:12]}@load.example"
        with self.client.post(
            "/v1/sequences/enrollments/",
            json={"sequence_id": SEQUENCE_ID, "recipient": {"email": address, "full_name": "Load Test"}},
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": uuid.uuid4().hex},
            name="POST /v1/sequences/enrollments/",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"enroll: {response.status_code} {response.error or response.text[:200]}")
            else:
                _record("enrolled", address)
