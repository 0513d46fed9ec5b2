"""Walk EVERY URL pattern of the project as an anonymous visitor and as a rep who owns nothing
there: refused (login, 401/403/404/405), never 200 with someone else's data, never 500, and a
POST by that rep changes nothing. A URL added without being classified below fails the walk.

Other refusals have their own tests (not repeated here):
- forged webhooks: tests/engagement/test_webhooks.py (bad basic auth, bad/old Svix signatures);
- tampered unsubscribe tokens: tests/engagement/test_unsubscribe.py;
- tampered or foreign open and click tokens: tests/engagement/test_own_tracking.py;
- API tokens with the wrong scope (every endpoint), revoked, made up, or a browser session used as
  a token: tests/api/test_tokens.py; another rep's objects per endpoint: tests/api/test_*.py.
"""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.models import Campaign, Enrollment, EnrollmentEvent, LabelAutomation, MilestoneRule, SequenceStep
from outreach.integrations.models import ApiToken, WebhookDelivery, WebhookSubscription
from outreach.mail.models import EngagementEvent, LocalMailboxMessage, MailboxConnection, OutboundMessage, SenderConfig
from outreach.people.models import ImportJob, Recipient
from outreach.suppression.models import Suppression
from review.models import Draft, DraftDecision, DraftEdit
from tests.hostile.walk import SECRET, Route, all_routes, url_for

pytestmark = pytest.mark.django_db


# --- Classification: every URL name (or prefix) is in exactly one group ------------------------

# Public on purpose; each verifies its own token or signature (tested where noted above).
PUBLIC = {
    "login",
    "logout",
    "unsubscribe",  # signed token; tampered tokens: tests/engagement/test_unsubscribe.py
    "tracking_open",  # signed token; tampered and foreign tokens: tests/engagement/test_own_tracking.py
    "tracking_click",
    "openapi-json",  # the API schema is public (tests/api/test_tokens.py)
    "api-root",  # links only
    "healthz",  # liveness and readiness: counts and ages only, no secrets (tests/test_operations.py)
    "readyz",
    "metrics",  # a bearer METRICS_TOKEN; 404 while none is set (tests/test_operations.py)
}
# Readiness answers 503 when something is not ready (no worker runs during these walks): by design.
NOT_READY_IS_AN_ANSWER = {"readyz"}
PUBLIC_PREFIXES = (
    "anymail/",  # provider webhooks: basic auth / Svix signature, tests/engagement/test_webhooks.py
)
# Django's admin: staff only, its own login.
ADMIN_PREFIX = "admin/"
# The REST API: a bearer token with the right scope, never a session (401 without one).
API_PREFIXES = ("v1/", "api/v1/")  # /api/v1/ is the alias of /v1/
# Pages a rep may open: lists and forms scoped to the rep (must not show the victim's data).
REP_PAGES = {
    "home",
    "recipient_list",
    "review_queue",
    "review_progress",
    "review_request",  # POST: refused for a recipient the rep does not own
    "replies",
    "mailbox",
    "sender_config",  # the rep's own settings
    "campaign_list",
    "campaign_create",  # reps may not create: 403
    "openapi-view",  # API docs: any logged-in user
    "settings_tokens",  # the rep's own tokens
    "sending_pauses",  # pauses on the rep or their sending domain
    "mailbox_connections",  # the rep's own mailboxes (POST connects one for the rep)
    "mailbox_oauth_start",  # POST: off to Google/Microsoft to connect the rep's own mailbox
    "mailbox_oauth_callback",  # back from the provider: only with a state this session started
    "sending_domain_check",  # POST: checks the rep's own sending domain
    "settings_token_create",
    "reviewer_settings",  # the user's own review settings (POST changes only theirs)
    "draft_bulk_approve",  # POST: only drafts the rep may see are approved
}
# Pages for CSMs/admins only: a rep gets 403 (or 404).
ROLE_PAGES = {
    "suppression_index",
    "suppression_add",
    "suppression_bulk",
    "suppression_remove",
    "suppression_check",
    "import_index",
    "import_detail",
    "import_mapping",
    "import_confirm",
    "import_resume",
    "edit_analytics",
    "edit_analytics_edit",
    "edit_analytics_export",
    "audit_index",
    "recipient_audit",
    "settings_webhooks",  # webhook subscriptions: admins
    "settings_webhook_detail",
    "settings_webhook_toggle",
    "settings_webhook_replay",
    "sending_domains",  # every sending domain: admins
    "deliverability",  # bounce and complaint rates: CSMs and admins
    "mailbox_admin",  # every mailbox's health: CSMs and admins
}
# One object of someone else's: a rep gets 403/404 (405 on GET of a POST-only view).
OWNED = {
    "recipient_detail",
    "draft_detail",
    "draft_approve",
    "draft_edit_approve",
    "draft_reject",
    "draft_regenerate",
    "draft_retry",
    "draft_skip",
    "draft_undo",  # only the approver, while the email is held
    "draft_versions",
    "mailbox_detail",
    "message_timeline",
    "campaign_rates",
    "campaign_detail",
    "campaign_edit",
    "campaign_target",
    "campaign_preview",
    "campaign_step_add",
    "campaign_step_edit",
    "campaign_step_delete",
    "campaign_step_move",
    "campaign_rule_add",
    "campaign_rule_toggle",
    "campaign_automation_new",
    "campaign_automation_toggle",
    "recipient_labels",  # CSMs: a rep gets 403, another's recipient 404
    "campaign_scan",
    "campaign_transition",
    "campaign_enroll",
    "campaign_stop_unmatched",
    "enrollment_detail",
    "enrollment_cancel",
    "settings_token_revoke",
    "sending_pause_resume",
    "draft_keep_untrusted",
    "sending_domain_selectors",
    "mailbox_test",
    "mailbox_default",
    "mailbox_disconnect",
    "thread_detail",  # a thread is its first email's: the victim's message id
    "contact_threads",
    "mailbox_threads",
    "reply_handled",  # the Replies page's actions: only on replies the person may see
    "reply_snooze",
    "reply_reopen",
    "reply_removal_confirm",
}


def classify(route: Route) -> str:
    if route.route.startswith(ADMIN_PREFIX):
        return "admin"
    if route.name in PUBLIC or route.route.startswith(PUBLIC_PREFIXES):
        return "public"
    if route.route.startswith(API_PREFIXES) and route.name not in REP_PAGES:
        return "api"
    groups = [g for g, names in (("rep", REP_PAGES), ("role", ROLE_PAGES), ("owned", OWNED)) if route.name in names]
    return groups[0] if len(groups) == 1 else "UNCLASSIFIED"


def test_every_url_of_the_project_is_classified():
    unclassified = [f"{r.route} ({r.name})" for r in all_routes() if classify(r) == "UNCLASSIFIED"]
    assert not unclassified, f"classify these in {__file__}: {unclassified}"


def test_no_classified_name_is_stale():
    names = {r.name for r in all_routes()}
    stale = (PUBLIC | REP_PAGES | ROLE_PAGES | OWNED) - names
    assert not stale, f"no such URL any more: {stale}"


def _post_payload(ids: dict, draft_version: int) -> dict:
    """A POST that names the victim's objects in every field a view might read."""
    return {
        "recipient": ids["recipient_id"],
        "recipients": ids["recipient_id"],
        "draft": ids["draft_id"],
        "version": draft_version,
        "reason": "wrong_person",
        "note": "x",
        "instruction": "x",
        "subject": "hijacked",
        "body_text": "hijacked",
        "name": "hijacked",
        "value": "hijacked.example",
        "kind": "domain",
        "address": "hijacked@x.example",
        "email": "hijacked@x.example",
        "direction": "up",
        "position": 1,
    }


def _snapshot() -> dict:
    """Everything the victim owns (and every shared list), to compare after the rep's POSTs."""
    models = [
        Recipient, Draft, DraftDecision, DraftEdit, OutboundMessage, EngagementEvent, ImportJob, Suppression,
        Campaign, SequenceStep, MilestoneRule, LabelAutomation, Enrollment, EnrollmentEvent, LocalMailboxMessage,
        WebhookSubscription, WebhookDelivery, MailboxConnection,
    ]  # fmt: skip
    snap = {m.__name__: sorted(map(repr, m.objects.values())) for m in models}
    snap["SenderConfig"] = sorted(map(repr, SenderConfig.objects.exclude(user__username="rep1").values()))
    # last_used_at moves when a token is used; the victim's token is never used here.
    snap["ApiToken"] = sorted(map(repr, ApiToken.objects.exclude(user__username="rep1").values()))
    return snap


def _routes_for_walk() -> list[Route]:
    # The admin site has its own checks (staff only): one representative URL is walked below.
    return [r for r in all_routes() if classify(r) != "admin"]


def test_an_anonymous_visitor_is_sent_to_login_or_refused_everywhere(victim_world, settings):
    # As deployed: webhooks need the shared secret (without one anymail accepts anything, with a
    # warning, and a malformed body then raises inside anymail).
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook-user:hook-pass-123", "RESEND_API_KEY": "re_test"}
    client = Client()
    for route in _routes_for_walk():
        url = url_for(route, victim_world)
        kind = classify(route)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            code = response.status_code
            where = f"{method.upper()} {url} ({route.name})"
            assert code < 500 or (route.name in NOT_READY_IS_AN_ANSWER and code == 503), where
            if kind == "public":
                if route.name in ("login", "openapi-json"):
                    assert code == 200, where
                elif route.name in ("healthz", "readyz"):
                    assert code in ((200, 503) if method == "get" else (405,)), where
                elif route.name == "logout":
                    assert code in (302, 405), where
                else:
                    assert code in (302, 400, 401, 403, 404, 405), where
                    assert code != 302 or "/login/" in response.url, where
            elif kind == "api":
                assert code in (401, 405), (where, code)
            else:
                assert code in (302, 401, 403, 404, 405), (where, code)
                if code == 302:
                    assert response.url.startswith("/login/"), (where, response.url)
            assert SECRET not in response.content.decode(errors="replace"), where
    admin = client.get("/admin/")
    assert admin.status_code == 302 and "/admin/login/" in admin.url


@pytest.mark.slow
def test_a_rep_reaches_nothing_of_someone_elses_by_any_url(victim_world, rep, rep_client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook-user:hook-pass-123", "RESEND_API_KEY": "re_test"}
    draft_version = Draft.objects.get(pk=victim_world["draft_id"]).version
    before = _snapshot()
    for route in _routes_for_walk():
        if route.name == "logout":
            continue  # it would end the rep's session for the rest of the walk
        url = url_for(route, victim_world)
        kind = classify(route)
        for method in ("get", "post"):
            if method == "post":
                response = rep_client.post(url, _post_payload(victim_world, draft_version))
            else:
                response = rep_client.get(url)
            code = response.status_code
            where = f"{method.upper()} {url} ({route.name}, {kind}) -> {code}"
            assert code < 500 or (route.name in NOT_READY_IS_AN_ANSWER and code == 503), where
            body = response.content.decode(errors="replace") if not response.streaming else ""
            assert SECRET not in body, where
            if kind == "api":
                assert code in (401, 405), (where, "a session is not an API credential")
            elif kind in ("owned", "role"):
                assert code in (403, 404, 405), where
            elif kind == "rep":
                assert code in (200, 302, 400, 403, 405, 409, 422), where
    assert _snapshot() == before, "a rep's POST changed someone else's objects"
    assert rep_client.get("/admin/").status_code == 302


def _api_payload(ids: dict) -> dict:
    return {
        "email": f"{SECRET}@victim.example",
        "first_name": "hijacked",
        "contact_id": ids["recipient_id"],
        "recipient_id": ids["recipient_id"],
        "sequence_id": ids["campaign_id"],
        "state": "cancelled",
        "is_active": False,
        "url": "https://hijack.example/in",
        "event_types": [],
        "reason": "x",
        "kind": "address",
        "value": f"{SECRET}@victim.example",
    }


def test_a_reps_api_token_with_every_scope_reaches_nothing_of_someone_elses(victim_world, rep, settings):
    from outreach.integrations.services.tokens import api_token_create

    settings.API_RATE_LIMIT_PER_MINUTE = 100_000  # five methods on every API route, one token

    secret = api_token_create(user=rep, name="walker", scopes=list(ApiToken.Scope.values)).secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    before = _snapshot()
    for route in all_routes():
        if classify(route) != "api":
            continue
        url = url_for(route, victim_world)
        has_id = "<" in route.route
        for method in ("get", "post", "patch", "put", "delete"):
            response = getattr(client, method)(url, _api_payload(victim_world), content_type="application/json")
            code = response.status_code
            where = f"{method.upper()} {url} ({route.name}) -> {code}"
            assert code < 500, where
            assert SECRET not in response.content.decode(errors="replace"), where
            if has_id:
                assert code in (400, 403, 404, 405, 409, 422), where
    after = _snapshot()
    changed = {k for k in before if before[k] != after[k]}
    # A rep may create their own contacts and (with the scope) suppress an address: checked below.
    assert changed <= {"Recipient", "Suppression"}, changed
    victim_recipient = Recipient.objects.get(pk=victim_world["recipient_id"])
    assert victim_recipient.first_name != "hijacked" and victim_recipient.owner.username == "rep2"
