"""Label automations: "when label X is added to a contact, enroll them in sequence S"."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from campaigns.models import Campaign, Enrollment, LabelAutomation
from campaigns.services.automations import label_automation_create
from campaigns.services.milestones import milestone_scan
from outreach.core.errors import ApplicationError
from outreach.people.models import Label, LabelEvent
from outreach.people.services import imports
from outreach.people.services.labels import recipient_label_remove, recipient_labels_add
from tests.campaigns.conftest import make_campaign
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(csm) -> Campaign:
    return make_campaign(created_by=csm, trigger=Campaign.Trigger.MANUAL)


@pytest.fixture
def automation(sequence, csm) -> LabelAutomation:
    return label_automation_create(campaign=sequence, label_name="proposal-open", user=csm).automation


def label(recipient, name: str = "proposal-open", via: str = LabelEvent.Via.API, actor=None, capture=None):
    with capture(execute=True):
        return recipient_labels_add(pairs=[(recipient.pk, name)], via=via, actor=actor)


def test_it_enrolls_a_contact_when_the_label_is_added_after_it_exists(
    automation, rep, django_capture_on_commit_callbacks
):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)
    enrollment = Enrollment.objects.get(recipient=person)
    assert (enrollment.campaign, enrollment.kind, enrollment.state) == (automation.campaign, "triggered", "active")


def test_the_enrollment_records_the_automation_and_the_label_event(
    automation, rep, csm, django_capture_on_commit_callbacks
):
    person = RecipientFactory(owner=rep)
    [event] = label(person, via=LabelEvent.Via.UI, actor=csm, capture=django_capture_on_commit_callbacks)
    source = Enrollment.objects.get(recipient=person).source
    assert (source["automation_id"], source["label_event_id"], source["label_added_via"]) == (
        automation.pk,
        event.pk,
        "ui",
    )
    assert "added via the recipient page by" in source["why"]


def test_contacts_who_already_carry_the_label_are_left_alone_by_default(
    sequence, rep, csm, django_capture_on_commit_callbacks
):
    before = RecipientFactory(owner=rep)
    label(before, capture=django_capture_on_commit_callbacks)
    created = label_automation_create(campaign=sequence, label_name="proposal-open", user=csm)
    assert (created.existing, created.enrolled_existing) == (1, 0)
    assert not Enrollment.objects.filter(recipient=before).exists()


def test_existing_carriers_are_enrolled_only_with_the_count_the_creator_saw(
    sequence, rep, csm, django_capture_on_commit_callbacks
):
    for _ in range(2):
        label(RecipientFactory(owner=rep), capture=django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError, match="2 contacts already carry") as refused:
        label_automation_create(
            campaign=sequence, label_name="proposal-open", user=csm, enroll_existing=True, existing_count=1
        )
    assert refused.value.extra["status"] == 409
    assert not LabelAutomation.objects.exists()
    created = label_automation_create(
        campaign=sequence, label_name="proposal-open", user=csm, enroll_existing=True, existing_count=2
    )
    assert created.enrolled_existing == 2
    assert Enrollment.objects.filter(campaign=sequence, kind="triggered").count() == 2


def test_it_does_not_change_the_campaigns_own_trigger(automation, sequence):
    sequence.refresh_from_db()
    assert sequence.trigger == Campaign.Trigger.MANUAL


def test_a_switched_off_automation_enrolls_nobody(automation, rep, django_capture_on_commit_callbacks):
    automation.active = False
    automation.save()
    label(RecipientFactory(owner=rep), capture=django_capture_on_commit_callbacks)
    assert not Enrollment.objects.exists()


def test_a_label_the_contact_already_has_is_no_new_event(automation, rep, django_capture_on_commit_callbacks):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)
    assert label(person, capture=django_capture_on_commit_callbacks) == []
    assert Enrollment.objects.filter(recipient=person).count() == 1


def test_a_label_added_by_a_csv_import_fires_it(
    automation, csm, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    csv = "Email,Labels\nann@newco.example,proposal-open\n"
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.import_job_create(file=ContentFile(csv.encode(), name="c.csv"), user=csm)
        imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
        imports.import_job_run(job_id=job.pk)
    enrollment = Enrollment.objects.get(recipient__email="ann@newco.example")
    assert enrollment.source["label_added_via"] == "csv"


def test_a_label_added_on_the_recipient_page_fires_it(automation, csm_client, rep, django_capture_on_commit_callbacks):
    person = RecipientFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = csm_client.post(f"/recipients/{person.pk}/labels/", {"add": "proposal-open"})
    assert response.status_code == 302
    assert Enrollment.objects.get(recipient=person).source["label_added_via"] == "ui"


def test_a_rep_may_not_label_people(rep_client, rep):
    person = RecipientFactory(owner=rep)
    assert rep_client.post(f"/recipients/{person.pk}/labels/", {"add": "vip"}).status_code == 403
    assert not person.labels.exists()


def test_a_label_added_in_the_admin_fires_it(automation, admin_client_, rep, django_capture_on_commit_callbacks):
    person = RecipientFactory(owner=rep)
    page = admin_client_.get(f"/admin/outreach/recipient/{person.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update({"labels": [Label.objects.get(name="proposal-open").pk], "owner": rep.pk})
    data.update({"facts-TOTAL_FORMS": 0, "facts-INITIAL_FORMS": 0, "account": person.account_id})
    data.pop("properties", None)
    data["properties"] = "{}"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(f"/admin/outreach/recipient/{person.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert Enrollment.objects.get(recipient=person).source["label_added_via"] == "admin"


def test_the_new_automation_page_shows_the_count_before_anything_is_created(
    sequence, csm_client, rep, django_capture_on_commit_callbacks
):
    label(RecipientFactory(owner=rep), capture=django_capture_on_commit_callbacks)
    page = csm_client.get(f"/campaigns/{sequence.pk}/automations/new/", {"label": "proposal-open"})
    assert "1 contact already carries “proposal-open”" in page.content.decode()
    assert not LabelAutomation.objects.exists()


def test_creating_it_in_the_ui_with_the_shown_count_enrolls_the_carriers(
    sequence, csm_client, rep, django_capture_on_commit_callbacks
):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)
    response = csm_client.post(
        f"/campaigns/{sequence.pk}/automations/new/",
        {"label": "proposal-open", "existing": "enroll", "existing_count": "1"},
    )
    assert response.status_code == 302
    assert LabelAutomation.objects.get().existing_enrolled == 1
    assert Enrollment.objects.get(recipient=person).campaign == sequence


def test_a_stale_count_in_the_ui_creates_nothing_and_shows_the_new_count(
    sequence, csm_client, rep, django_capture_on_commit_callbacks
):
    label(RecipientFactory(owner=rep), capture=django_capture_on_commit_callbacks)
    response = csm_client.post(
        f"/campaigns/{sequence.pk}/automations/new/",
        {"label": "proposal-open", "existing": "enroll", "existing_count": "0"},
    )
    assert response.status_code == 409
    assert "1 contact already carry" in response.content.decode() or "1 contact already carries" in (
        response.content.decode()
    )
    assert not LabelAutomation.objects.exists()


def test_the_campaign_page_lists_its_automations_in_words(automation, sequence, csm_client):
    page = csm_client.get(f"/campaigns/{sequence.pk}/").content.decode()
    assert "When “proposal-open” is added to a contact, enroll them" in page


def test_the_label_taken_off_and_added_again_is_a_new_occurrence(automation, rep, django_capture_on_commit_callbacks):
    person = RecipientFactory(owner=rep)
    label(person, capture=django_capture_on_commit_callbacks)
    Enrollment.objects.update(state=Enrollment.State.COMPLETED)
    recipient_label_remove(recipient=person, name="proposal-open")
    label(person, capture=django_capture_on_commit_callbacks)
    assert Enrollment.objects.filter(recipient=person).count() == 2


def test_the_milestone_scan_does_not_enroll_label_carriers(automation, rep, django_capture_on_commit_callbacks):
    person = RecipientFactory(owner=rep)
    person.labels.add(Label.objects.get(name="proposal-open"))  # no label event: e.g. demo data
    milestone_scan()
    assert not Enrollment.objects.exists()
