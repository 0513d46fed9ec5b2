import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db

PAGES = ["home", "recipient_list", "suppression_index"]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_requires_login(name):
    response = Client().get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_admin_site_is_for_admins_only(rep_client, csm_client, admin_client_):
    assert rep_client.get("/admin/").status_code == 302
    assert csm_client.get("/admin/").status_code == 302
    assert admin_client_.get("/admin/").status_code == 200


def test_each_role_sees_the_navigation_for_its_role(rep_client, admin_client_):
    assert b"Suppression" not in rep_client.get(reverse("home")).content
    assert b"Suppression" in admin_client_.get(reverse("home")).content


def test_a_rep_sees_only_the_recipients_they_own(rep, other_rep, rep_client):
    mine = RecipientFactory(owner=rep)
    theirs = RecipientFactory(owner=other_rep)
    listing = rep_client.get(reverse("recipient_list")).content.decode()
    assert mine.email in listing and theirs.email not in listing
    assert rep_client.get(reverse("recipient_detail", args=[theirs.pk])).status_code == 404
    assert rep_client.get(reverse("recipient_detail", args=[mine.pk])).status_code == 200


def test_the_recipient_list_uses_a_constant_number_of_queries(csm_client, django_assert_max_num_queries):
    RecipientFactory.create_batch(40)
    with django_assert_max_num_queries(8):
        assert csm_client.get(reverse("recipient_list")).status_code == 200
