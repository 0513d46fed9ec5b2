"""Existing person-facing text loses the hidden characters the models now remove when saving
(zero-width, bidi controls such as U+202E, tag characters): recipients' names and titles, account
names, label names, fact texts, sender profiles' display name, title, company and signature.

Account and label names are unique: a name that was unique only thanks to a hidden character (an
invisible twin of "Acme") is cleaned to "Acme (#<id>)", so both rows stay and the twin shows. A
fact whose clean text equals another fact of the same recipient, kind and date stays as it is.
"""

from django.db import migrations

from outreach.core.text import clean_display_fields

BATCH = 2000


def _changed_rows(model, lines=(), blocks=()):
    fields = [*lines, *blocks]
    changed = []
    for row in model.objects.only("pk", *fields).order_by("pk").iterator(chunk_size=BATCH):
        before = [getattr(row, name) for name in fields]
        clean_display_fields(row, lines, blocks)
        if [getattr(row, name) for name in fields] != before:
            changed.append(row)
    return changed


def _clean_unique_names(model):
    changed = _changed_rows(model, lines=("name",))
    if not changed:
        return
    max_length = model._meta.get_field("name").max_length
    changed_ids = {row.pk for row in changed}
    taken = set(model.objects.exclude(pk__in=changed_ids).values_list("name", flat=True))
    for row in changed:
        if not row.name or row.name in taken:
            suffix = f" (#{row.pk})"
            row.name = row.name[: max_length - len(suffix)] + suffix
        taken.add(row.name)
    model.objects.bulk_update(changed, ["name"], batch_size=500)


def _clean_facts(model):
    changed = _changed_rows(model, blocks=("text",))
    keep = []
    for row in changed:
        clash = (
            model.objects.filter(recipient_id=row.recipient_id, kind=row.kind, text=row.text, observed_at=row.observed_at)
            .exclude(pk=row.pk)
            .exists()
        )
        if not clash:
            keep.append(row)
    model.objects.bulk_update(keep, ["text"], batch_size=500)


def clean_display_text(apps, schema_editor):
    recipient = apps.get_model("outreach", "Recipient")
    recipient.objects.bulk_update(
        _changed_rows(recipient, lines=("first_name", "last_name", "title")),
        ["first_name", "last_name", "title"],
        batch_size=500,
    )
    profile = apps.get_model("outreach", "SenderProfile")
    profile.objects.bulk_update(
        _changed_rows(profile, lines=("display_name", "title", "company"), blocks=("signature",)),
        ["display_name", "title", "company", "signature"],
        batch_size=500,
    )
    _clean_unique_names(apps.get_model("outreach", "Account"))
    _clean_unique_names(apps.get_model("outreach", "Label"))
    _clean_facts(apps.get_model("outreach", "Fact"))


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0008_api_token_rate_bucket"),
    ]

    operations = [
        # Nothing to undo: the removed characters were never meant to be there.
        migrations.RunPython(clean_display_text, migrations.RunPython.noop),
    ]
