"""Error pages keep the app's layout and say what happened and what to do, instead of Django's bare
"403 Forbidden" / "Not Found" text."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_rep_opening_an_admins_page_gets_an_explained_403_inside_the_app(rep_client):
    response = rep_client.get(reverse("mailbox_admin"))

    assert response.status_code == 403
    page = response.content.decode()
    assert "You can't open this page" in page
    assert "ask an admin" in page
    assert 'id="main-nav"' in page  # the navigation stays, so the rep is not stranded
    assert f'href="{reverse("home")}"' in page


def test_an_address_that_does_not_exist_gets_an_explained_404_inside_the_app(rep_client):
    response = rep_client.get("/no-such-page/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert 'id="main-nav"' in page


def test_the_500_page_renders_without_a_request_context():
    # Django renders 500.html with an empty context (no user, no context processors).
    from django.template import loader

    page = loader.get_template("500.html").render()

    assert "Something went wrong on our side" in page
    assert "main-nav" not in page


def test_a_visitor_who_is_not_logged_in_still_goes_to_the_login_page_not_a_403():
    response = Client().get(reverse("mailbox_admin"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
