from __future__ import annotations

import pytest
from django.test import Client

from outreach.integrations.models import ApiToken
from outreach.integrations.services.tokens import api_token_create

ALL_SCOPES = list(ApiToken.Scope.values)


class ApiClient(Client):
    """A test client that sends a bearer token and JSON bodies."""

    def __init__(self, secret: str, **kwargs):
        super().__init__(headers={"Authorization": f"Bearer {secret}"}, **kwargs)

    def post_json(self, path, data=None, **kwargs):
        return self.post(path, data, content_type="application/json", **kwargs)

    def patch_json(self, path, data=None, **kwargs):
        return self.patch(path, data, content_type="application/json", **kwargs)

    def delete_json(self, path, data=None, **kwargs):
        return self.delete(path, data, content_type="application/json", **kwargs)


@pytest.fixture
def token_for():
    """token_for(user, *scopes) -> (ApiToken, secret); all scopes when none are named."""

    def make(user, *scopes):
        created = api_token_create(user=user, name="test", scopes=list(scopes) or ALL_SCOPES)
        return created.token, created.secret

    return make


@pytest.fixture
def api_client_for(token_for):
    """api_client_for(user, *scopes) -> an ApiClient acting as that user with those scopes."""

    def make(user, *scopes):
        _, secret = token_for(user, *scopes)
        return ApiClient(secret)

    return make


# --- A real webhook receiver on localhost ------------------------------------------------------


class Receiver:
    """Records every request; answers with the queued status codes, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.url = ""


@pytest.fixture
def receiver():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            state.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            payload = b'{"ok": true}' if status < 300 else b"receiver exploded"
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/outreach"
    yield state
    server.shutdown()
    server.server_close()


# --- Drafts and messages without the review app's services --------------------------------------


@pytest.fixture
def make_message():
    """make_message(sender=..., recipient=..., **fields) -> an OutboundMessage with its approved Draft."""
    import uuid

    from outreach.mail.models import OutboundMessage
    from review.models import Draft
    from tests.factories import RecipientFactory

    def make(*, sender, recipient=None, **fields):
        recipient = recipient or RecipientFactory(owner=sender)
        draft = Draft.objects.create(
            recipient=recipient,
            sender=sender,
            state=Draft.State.APPROVED,
            subject="Checking in",
            body_text="Hi there",
            body_html="<p>Hi there</p>",
        )
        defaults = {
            "draft_ref": draft.pk,
            "recipient": recipient,
            "sender": sender,
            "from_email": sender.email,
            "to_email": recipient.email,
            "subject": draft.subject,
            "body_html": draft.body_html,
            "body_text": draft.body_text,
            "content_hash": "0" * 64,
            "message_id": f"<{uuid.uuid4().hex}@team.example>",
            "idempotency_key": uuid.uuid4().hex,
            "approved_by": sender,
        }
        defaults.update(fields)
        message = OutboundMessage.objects.create(**defaults)
        Draft.objects.filter(pk=draft.pk).update(outbound_message=message)
        return message

    return make
