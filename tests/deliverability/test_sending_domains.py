"""Sender domains: SPF, DMARC and DKIM read from a real DNS server (dnslib, on 127.0.0.1) and told in
plain words on the sender's page, the admin's Domains page and in the review queue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.core.errors import ApplicationError
from outreach.mail.dns_checks import check_domain
from outreach.mail.models import SendingDomain
from outreach.mail.services.domains import (
    sending_domain_check_now,
    sending_domain_selectors_set,
    sending_domains_check_all,
)
from outreach.schedules import SCHEDULES
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db

DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 300 + "IDAQAB"


@pytest.fixture
def zones(dns_server, settings):
    """good.example is right; broken.example has two SPF records, a DMARC without a valid policy and
    no DKIM; custom.example signs with a selector only an admin knows, through a CNAME."""
    settings.EMAIL_BACKEND = "anymail.backends.resend.EmailBackend"  # the provider: Resend
    settings.DEFAULT_FROM_EMAIL = "outreach@good.example"
    dns_server.add("good.example", "TXT", "v=spf1 include:amazonses.com ~all", "google-site-verification=abc")
    dns_server.add("_dmarc.good.example", "TXT", "v=DMARC1; p=quarantine; rua=mailto:dmarc@good.example")
    dns_server.add("resend._domainkey.good.example", "TXT", DKIM_KEY)
    dns_server.add("broken.example", "TXT", "v=spf1 include:amazonses.com ~all", "v=spf1 include:mailgun.org -all")
    dns_server.add("_dmarc.broken.example", "TXT", "v=DMARC1; p=bogus")
    dns_server.add("custom.example", "TXT", "v=spf1 include:amazonses.com -all")
    dns_server.add("_dmarc.custom.example", "TXT", "v=DMARC1; p=none")
    dns_server.add("mysel._domainkey.custom.example", "CNAME", "mysel.dkim.provider.example")
    dns_server.add("mysel.dkim.provider.example", "TXT", DKIM_KEY)
    return dns_server


def _statuses(report) -> dict[str, str]:
    return {check.kind: check.status for check in report.checks}


def test_a_well_configured_domain_passes_every_check(zones):
    report = check_domain("good.example", selectors=["resend"], provider="resend")
    assert _statuses(report) == {"spf": "present", "dmarc": "present", "dkim": "present"}
    assert report.passes
    assert ("resend._domainkey.good.example", "TXT") in zones.queries  # asked the test's DNS server


def test_a_broken_domain_says_what_is_wrong_and_what_to_add(zones):
    report = check_domain("broken.example", selectors=["resend"], provider="resend")
    assert _statuses(report) == {"spf": "wrong", "dmarc": "wrong", "dkim": "missing"}
    assert "2 SPF records" in report.spf.summary and "Merge them into one" in report.spf.fix
    assert "p=bogus" in report.dmarc.summary and "v=DMARC1; p=none; rua=mailto:dmarc@broken.example" in report.dmarc.fix
    assert "resend" in report.dkim.summary and "._domainkey.broken.example" in report.dkim.fix
    assert not report.passes


def test_a_domain_without_records_is_missing_each_with_the_record_to_add(zones):
    report = check_domain("nothing.example", selectors=["resend"], provider="resend")
    assert _statuses(report) == {"spf": "missing", "dmarc": "missing", "dkim": "missing"}
    assert '"v=spf1 include:amazonses.com ~all"' in report.spf.fix
    assert "_dmarc.nothing.example" in report.dmarc.fix


def test_spf_without_the_providers_include_and_plus_all_are_wrong(zones):
    zones.add("loose.example", "TXT", "v=spf1 +all")
    zones.add("other.example", "TXT", "v=spf1 include:sendgrid.net ~all")
    assert check_domain("loose.example", selectors=[], provider="resend").spf.status == "wrong"
    other = check_domain("other.example", selectors=[], provider="resend").spf
    assert other.status == "wrong" and "include:amazonses.com" in other.fix


def test_a_dmarc_policy_of_none_is_weak_but_passes(zones):
    report = check_domain("custom.example", selectors=["mysel"], provider="resend")
    assert report.dmarc.status == "weak" and "p=quarantine" in report.dmarc.fix
    assert report.dkim.status == "present" and report.passes  # the DKIM key behind a CNAME


def test_an_unreachable_resolver_is_unknown_not_a_failure_of_the_domain(settings):
    from tests.sending.conftest import _free_port

    settings.DNS_RESOLVER, settings.DNS_TIMEOUT_SECONDS = f"127.0.0.1:{_free_port()}", 1
    report = check_domain("good.example", selectors=["resend"])
    assert {check.status for check in report.checks} == {"unknown"}
    assert "DNS did not answer" in report.spf.summary


def test_the_daily_check_covers_every_senders_domain_and_the_organizations(zones, rep, other_rep):
    rep.sender.email = "rita@broken.example"
    rep.sender.save()
    outcome = sending_domains_check_all()
    assert outcome == {"broken.example": False, "good.example": True, "team.example": False}
    assert any(s.func == "outreach.mail.tasks.sending_domains_check" and s.minutes == 24 * 60 for s in SCHEDULES)


def test_an_admin_enters_a_dkim_selector_and_the_domain_passes(zones, admin_user, rep):
    rep.sender.email = "rita@custom.example"
    rep.sender.save()
    domain = sending_domain_check_now(user=admin_user, name="custom.example")
    assert domain.result["dkim"]["status"] == "missing" and domain.passes is False
    domain = sending_domain_selectors_set(domain=domain, user=admin_user, selectors="mysel, s1")
    assert domain.dkim_selectors == ["mysel", "s1"] and domain.passes is True
    with pytest.raises(ApplicationError, match="Not a DKIM selector"):
        sending_domain_selectors_set(domain=domain, user=admin_user, selectors="bad/one")
    with pytest.raises(ApplicationError, match="Only an admin"):
        sending_domain_selectors_set(domain=domain, user=rep, selectors="x")


def test_a_sender_checks_only_their_own_domain(zones, rep):
    rep.sender.email = "rita@broken.example"
    rep.sender.save()
    assert sending_domain_check_now(user=rep, name="broken.example").passes is False
    with pytest.raises(ApplicationError, match="not a domain you send from"):
        sending_domain_check_now(user=rep, name="good.example")


def test_a_sender_with_a_broken_dmarc_record_sees_what_to_fix_on_their_page(zones, rep, rep_client):
    rep.sender.email = "rita@broken.example"
    rep.sender.save()
    page = rep_client.get(reverse("sender_config")).content.decode()
    assert "broken.example has not been checked yet" in page
    response = rep_client.post(reverse("sending_domain_check"), {"domain": "broken.example"})
    assert response.status_code == 302
    page = rep_client.get(reverse("sender_config")).content.decode()
    assert "fails" in page and 'data-record="dmarc" data-status="wrong"' in page
    assert "the policy must be none, quarantine or reject" in page
    assert "v=DMARC1; p=none; rua=mailto:dmarc@broken.example" in page


def test_the_domains_page_is_for_admins_and_lists_every_domain(zones, rep, admin_user, login_client):
    rep.sender.email = "rita@broken.example"
    rep.sender.save()
    assert login_client(rep).get(reverse("sending_domains")).status_code == 403
    admin = login_client(admin_user)
    admin.post(reverse("sending_domain_check"), {"domain": "broken.example", "next": "domains"})
    page = admin.get(reverse("sending_domains")).content.decode()
    assert "broken.example" in page and "good.example has not been checked yet" in page
    assert 'data-record="spf" data-status="wrong"' in page


def test_the_review_queue_warns_when_the_senders_domain_fails(zones, rep, rep_client):
    rep.sender.email = "rita@broken.example"
    rep.sender.save()
    draft = DraftFactory(sender=rep)
    page = rep_client.get(reverse("review_queue"), {"draft": draft.pk}).content.decode()
    assert "domain-warning" not in page  # not checked yet: no claim either way
    sending_domain_check_now(user=rep, name="broken.example")
    page = rep_client.get(reverse("review_queue"), {"draft": draft.pk}).content.decode()
    assert "broken.example fails SPF, DMARC, DKIM" in page and "may land in spam" in page
    SendingDomain.objects.filter(domain="broken.example").update(passes=True, result={})
    page = rep_client.get(reverse("review_queue"), {"draft": draft.pk}).content.decode()
    assert "domain-warning" not in page
