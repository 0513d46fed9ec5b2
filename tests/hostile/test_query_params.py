"""Objects named in query strings get the same one visibility rule as objects named in paths.

A rep opens their own pages (their campaign, their draft, their recipient…) and names someone
else's object, or no object at all, in every query parameter a view might read: the answer is a
404 or an empty result, never the other person's data and never a 500. And each list that exists
both in the browser and in the API shows one user the same set of objects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from campaigns.models import Enrollment, SequenceStep
from outreach.core import public_ids
from outreach.integrations.models import ApiToken
from outreach.integrations.services.tokens import api_token_create
from tests.factories import CampaignFactory, DraftFactory, OutboundMessageFactory, RecipientFactory, UserFactory
from tests.hostile.test_access_walk import classify
from tests.hostile.walk import EVERY_KEY, SECRET, all_routes, query_keys_read, url_for

pytestmark = pytest.mark.django_db

# Every query parameter, in the browser or the API, that names an object.
OBJECT_PARAMS = (
    "recipient",
    "draft",
    "message",
    "step",
    "campaign",
    "enrollment",
    "list",
    "edit",
    "job",
    "contact_id",
    "sequence_id",
    "campaign_id",
    "enrollment_id",
    "recipient_id",
)
# Not an id of any row: letters, a negative, beyond bigint, non-ASCII digits, a decimal.
NOT_IDS = ("abc", "-1", "99999999999999999999999", "١٢", "1.5")


@pytest.fixture
def own_world(rep, other_rep, csm):
    """What the rep owns: path parameters are filled with these, so each page gets as far as
    reading its query string."""
    recipient = RecipientFactory(owner=rep)
    campaign = CampaignFactory(created_by=csm, named_sender=rep)
    step = SequenceStep.objects.create(campaign=campaign, position=0, subject="Mine", body="Hi")
    draft = DraftFactory(sender=rep, recipient=recipient, campaign=campaign)
    message = OutboundMessageFactory(draft=DraftFactory(sender=rep, recipient=recipient, state="approved"))
    enrollment = Enrollment.objects.create(campaign=campaign, recipient=recipient, sender=rep)
    token = api_token_create(user=rep, name="mine", scopes=list(ApiToken.Scope.values)).token
    return {
        "recipient_id": recipient.pk,
        "contact_id": recipient.pk,
        "campaign_id": campaign.pk,
        "sequence_id": campaign.pk,
        "step_id": step.pk,
        "draft_id": draft.pk,
        "message_id": message.pk,
        "enrollment_id": enrollment.pk,
        "token_id": token.pk,
    }


def _browser_get_routes():
    return [r for r in all_routes() if classify(r) in ("rep", "owned") and r.name != "logout"]


def _paths(world: dict, victim: dict) -> list[str]:
    """Each page the rep can open with their own objects in its path (the victim's fill the rest)."""
    return [url_for(route, {**victim, **world}) for route in _browser_get_routes()]


def _body(response) -> str:
    return "" if response.streaming else response.content.decode(errors="replace")


def test_the_campaign_preview_never_shows_someone_elses_recipient(rep_client, own_world, victim_world):
    campaign = own_world["campaign_id"]
    theirs = rep_client.get(f"/campaigns/{campaign}/preview/?recipient={victim_world['recipient_id']}")
    assert theirs.status_code == 404
    assert SECRET not in _body(theirs)
    mine = rep_client.get(f"/campaigns/{campaign}/preview/?recipient={own_world['recipient_id']}")
    assert mine.status_code == 200


@pytest.mark.parametrize("value", ["abc", "", "99999999999999999999999"])
def test_the_campaign_preview_answers_404_for_what_is_not_an_id(rep_client, own_world, value):
    campaign = own_world["campaign_id"]
    assert rep_client.get(f"/campaigns/{campaign}/preview/?recipient={value}").status_code == 404
    step = rep_client.get(f"/campaigns/{campaign}/preview/?recipient={own_world['recipient_id']}&step={value}")
    assert step.status_code in (200, 404) if value == "" else step.status_code == 404


def _opened_with_params_read(client, world: dict, victim: dict) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each page the rep can open (refused ones read no parameter: someone else's, or not for a rep),
    with the object parameters it asks for. Asked twice, with none of them and with all of them set
    to the rep's own objects, so a page that reads one parameter only once another is set counts
    too; a page that goes through the whole query string is walked with every parameter."""
    for path in _paths(world, victim):
        with query_keys_read() as keys:
            if client.get(path).status_code != 200:
                continue
            client.get(path, {p: world.get(p) or world.get(f"{p}_id") or world["recipient_id"] for p in OBJECT_PARAMS})
        yield path, tuple(p for p in OBJECT_PARAMS if p in keys or EVERY_KEY in keys)


def test_the_walks_send_each_page_the_parameters_it_reads(rep_client, own_world, victim_world):
    read = dict(_opened_with_params_read(rep_client, own_world, victim_world))
    assert len(read) >= 10, "the walk must reach the rep's own pages"
    assert "draft" in read["/review/"]  # the queue opens the draft named in ?draft=
    assert read["/settings/tokens/"] == ()  # a page that reads no parameter gets none


@pytest.mark.slow
def test_no_query_parameter_reaches_someone_elses_object(rep_client, own_world, victim_world):
    opened = 0
    for path, params in _opened_with_params_read(rep_client, own_world, victim_world):
        opened += 1
        for param in params:
            victim_id = victim_world.get(param) or victim_world.get(f"{param}_id") or victim_world["recipient_id"]
            response = rep_client.get(path, {param: victim_id})
            where = f"GET {path}?{param}={victim_id} -> {response.status_code}"
            assert response.status_code < 500, where
            assert SECRET not in _body(response), where
    assert opened >= 10, "the walk must reach the rep's own pages"


@pytest.mark.slow
def test_no_query_parameter_that_is_not_an_id_answers_500(rep_client, own_world, victim_world):
    for path, params in _opened_with_params_read(rep_client, own_world, victim_world):
        for param in params:
            for value in NOT_IDS:
                response = rep_client.get(path, {param: value})
                assert response.status_code < 500, f"GET {path}?{param}={value} -> {response.status_code}"


@pytest.mark.slow
def test_no_api_filter_reaches_someone_elses_object(rep, own_world, victim_world, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000  # hundreds of requests, one token
    secret = api_token_create(user=rep, name="walker", scopes=list(ApiToken.Scope.values)).secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    lists = [r for r in all_routes() if classify(r) == "api" and "<" not in r.route]
    for route in lists:
        path = "/" + route.route
        if client.get(path).status_code != 200:
            continue
        for param in OBJECT_PARAMS:
            for value in (victim_world.get(param) or victim_world["recipient_id"], *NOT_IDS):
                response = client.get(path, {param: value})
                where = f"GET {path}?{param}={value} -> {response.status_code}"
                assert response.status_code in (200, 400, 404, 422), where
                assert SECRET not in _body(response), where


# --- The browser and the API agree --------------------------------------------------------------

# (browser detail URL, API list URL) per kind of object that has both.
BOTH = {
    "recipient": ("/recipients/{pk}/", "/v1/contacts/"),
    "draft": ("/review/drafts/{pk}/", "/v1/drafts/"),
    "message": ("/messages/{pk}/", "/v1/messages/"),
    "enrollment": ("/campaigns/enrollments/{pk}/", "/v1/sequences/enrollments/"),
    "campaign": ("/campaigns/{pk}/", "/v1/sequences/"),
}
# The API names rows by public ids (ctc_…): the browser's row number, sealed the same way.
PUBLIC_PREFIX = {"recipient": "ctc", "draft": "drf", "message": "msg", "enrollment": "enr", "campaign": "seq"}


def _api_ids(client: Client, path: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        response = client.get(path, {"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, (path, response.content[:300])
        page = response.json()
        ids |= {str(item["id"]) for item in page["items"]}
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


@pytest.fixture
def team_world(rep, other_rep, csm):
    """Two reps' worth of everything, some of it crossing: rep2 sends to a person rep1 owns."""
    world: dict[str, list[int]] = {kind: [] for kind in BOTH}
    mine, theirs = RecipientFactory(owner=rep), RecipientFactory(owner=other_rep)
    crossing = CampaignFactory(created_by=csm, named_sender=other_rep)
    for owner, recipient in ((rep, mine), (other_rep, theirs), (other_rep, mine)):
        campaign = CampaignFactory(created_by=csm, named_sender=owner)
        draft = DraftFactory(sender=owner, recipient=recipient, campaign=campaign)
        message = OutboundMessageFactory(draft=DraftFactory(sender=owner, recipient=recipient, state="approved"))
        enrollment = Enrollment.objects.create(campaign=crossing, recipient=recipient, sender=owner)
        world["campaign"].append(campaign.pk)
        world["draft"].append(draft.pk)
        world["message"].append(message.pk)
        world["enrollment"].append(enrollment.pk)
    world["campaign"].append(crossing.pk)
    world["recipient"] += [mine.pk, theirs.pk]
    return world


@pytest.mark.parametrize("role", ["rep", "csm", "admin"])
def test_each_list_in_both_the_browser_and_the_api_shows_the_same_set(role, rep, csm, team_world):
    user = {"rep": rep, "csm": csm, "admin": UserFactory(username="admin9", role="admin")}[role]
    browser = Client()
    browser.force_login(user)
    api = Client(
        headers={
            "Authorization": f"Bearer {api_token_create(user=user, name='t', scopes=list(ApiToken.Scope.values)).secret}"
        }
    )
    for kind, (detail, listing) in BOTH.items():
        in_api = _api_ids(api, listing)
        for pk in team_world[kind]:
            status = browser.get(detail.format(pk=pk)).status_code
            assert status in (200, 302, 404), (role, kind, pk, status)  # a draft's page redirects into the queue
            shown = status != 404
            in_api_too = public_ids.encode(PUBLIC_PREFIX[kind], pk) in in_api
            assert shown == in_api_too, f"{role}: {kind} {pk} browser {status}, api {in_api}"


@pytest.mark.parametrize("value", ["0", "99999999999999999999999", "abc", "%E2%80%AE"])
def test_no_path_parameter_that_names_no_row_answers_500(rep_client, rep, value, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    secret = api_token_create(user=rep, name="walker", scopes=list(ApiToken.Scope.values)).secret
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    for route in all_routes():
        if "<" not in route.route or classify(route) in ("admin", "public") or route.name == "logout":
            continue
        path = url_for(route, _AnyValue(value))
        client = api if classify(route) == "api" else rep_client
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code < 500, f"{method.upper()} {path} -> {response.status_code}"


class _AnyValue(dict):
    """Fills every path parameter with the same value."""

    def __init__(self, value: str):
        super().__init__()
        self.value = value

    def __contains__(self, key) -> bool:
        return True

    def __getitem__(self, key):
        return self.value
