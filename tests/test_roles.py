"""Roles are groups with permissions; the auth backend reads both in one query per request."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from outreach.people.roles import role_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # as each request loads it: nothing cached


@pytest.mark.parametrize("role", ["rep", "csm", "admin"])
def test_the_backend_grants_exactly_what_djangos_model_backend_grants(role):
    user = UserFactory(role=role)
    user.user_permissions.add(Permission.objects.get(codename="view_suppression"))
    assert _fresh(user).get_all_permissions() == ModelBackend().get_all_permissions(_fresh(user))


def test_a_permission_check_and_the_role_cost_two_queries_together(django_assert_num_queries):
    user = _fresh(UserFactory(role="csm"))
    with django_assert_num_queries(2):  # the user's own permissions; group permissions with group names
        assert user.has_perm("campaigns.add_campaign")
        assert role_of(user) == "csm"


def test_a_role_group_without_permissions_still_gives_the_role_and_no_permissions():
    Group.objects.get(name="rep").permissions.clear()
    user = _fresh(UserFactory(role="rep"))
    assert not user.has_perm("review.view_draft")
    assert role_of(user) == "rep"


def test_an_inactive_user_has_no_permissions_and_superusers_are_admins():
    inactive = UserFactory(role="csm", is_active=False)
    assert _fresh(inactive).get_all_permissions() == set()
    superuser = _fresh(UserFactory(is_superuser=True))
    assert superuser.has_perm("review.change_draft") and role_of(superuser) == "admin"
