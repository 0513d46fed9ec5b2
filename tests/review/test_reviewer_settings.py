"""Single-key shortcuts are a setting of the user, kept on the server: turned off in Review settings
(or the queue's keyboard help), they stay off in every browser the person uses."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from review.models import ReviewerSettings
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _queue(client) -> str:
    return client.get(reverse("review_queue")).content.decode()


def test_shortcuts_are_on_until_the_user_turns_them_off(rep, rep_client):
    DraftFactory(sender=rep)
    page = _queue(rep_client)
    assert 'data-shortcuts="on"' in page
    assert 'id="shortcuts-toggle" name="single_key_shortcuts" checked' in page
    assert not ReviewerSettings.objects.exists()


def test_turning_them_off_in_review_settings_is_kept_for_every_browser(rep, rep_client):
    response = rep_client.post(reverse("reviewer_settings"), {})  # an unticked box sends nothing
    assert response.status_code == 302 and response.url == reverse("reviewer_settings")

    another_browser = Client()
    another_browser.force_login(rep)
    page = _queue(another_browser)
    assert 'data-shortcuts="off"' in page
    assert 'name="single_key_shortcuts" checked' not in page
    settings_page = another_browser.get(reverse("reviewer_settings")).content.decode()
    assert 'id="settings-shortcuts"' in settings_page and 'id="settings-shortcuts" checked' not in settings_page


def test_the_keyboard_help_saves_the_setting_in_place(rep, rep_client):
    response = rep_client.post(reverse("reviewer_settings"), {"single_key_shortcuts": "on"}, **HTMX)
    assert response.status_code == 200
    assert "shortcutsChanged" in response["HX-Trigger"]
    assert ReviewerSettings.objects.get(user=rep).single_key_shortcuts is True

    rep_client.post(reverse("reviewer_settings"), {}, **HTMX)
    assert ReviewerSettings.objects.get(user=rep).single_key_shortcuts is False
    assert ReviewerSettings.objects.count() == 1


def test_one_users_setting_is_not_anothers(rep, other_rep, rep_client, login_client):
    rep_client.post(reverse("reviewer_settings"), {})
    DraftFactory(sender=other_rep)
    assert 'data-shortcuts="on"' in _queue(login_client(other_rep))


def test_review_settings_need_a_login():
    response = Client().post(reverse("reviewer_settings"), {})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not ReviewerSettings.objects.exists()
