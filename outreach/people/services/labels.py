"""Labels on recipients: the one place a label is added (the recipient page, the API, CSV imports
and the admin all come here), so every addition is recorded as a LabelEvent and announced once
through `people.signals.labels_added` (label automations start sequences from it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from outreach.core.errors import ApplicationError
from outreach.core.text import clean_display_text
from outreach.people.models import Label, LabelEvent, Recipient
from outreach.people.signals import labels_added


def label_name_clean(name: str) -> str:
    """A label's name as Label stores it (so a lookup finds the label it would clash with)."""
    return clean_display_text(str(name or ""))[:100].strip()


@transaction.atomic
def recipient_labels_add(*, pairs: Iterable[tuple[int, str]], via: str, actor=None) -> list[LabelEvent]:
    """Give recipients labels: `pairs` of (recipient id, label name); unknown labels are created.
    A recipient who already carries the label is left alone (no event). Returns the new events."""
    wanted = {(rid, label_name_clean(name)) for rid, name in pairs}
    wanted = {(rid, name) for rid, name in wanted if name}
    if not wanted:
        return []
    if via not in LabelEvent.Via.values:
        raise ApplicationError(f"Unknown way of adding a label: {via!r}.")
    names = {name for _, name in wanted}
    label_ids = dict(Label.objects.filter(name__in=names).values_list("name", "pk"))
    missing = names - set(label_ids)
    if missing:
        Label.objects.bulk_create([Label(name=n) for n in sorted(missing)], ignore_conflicts=True)
        label_ids = dict(Label.objects.filter(name__in=names).values_list("name", "pk"))
    links = {(rid, label_ids[name]) for rid, name in wanted}
    through = Recipient.labels.through
    rids = {rid for rid, _ in links}
    existing = set(
        through.objects.filter(recipient_id__in=rids, label_id__in=set(label_ids.values())).values_list(
            "recipient_id", "label_id"
        )
    )
    new = sorted(links - existing)
    if not new:
        return []
    through.objects.bulk_create(
        [through(recipient_id=rid, label_id=lid) for rid, lid in new], ignore_conflicts=True, batch_size=500
    )
    user = actor if getattr(actor, "pk", None) else None
    events = LabelEvent.objects.bulk_create(
        [LabelEvent(recipient_id=rid, label_id=lid, via=via, actor=user) for rid, lid in new], batch_size=500
    )
    transaction.on_commit(lambda: labels_added.send(sender=LabelEvent, events=events))
    return events


@transaction.atomic
def recipient_label_remove(*, recipient: Recipient, name: str) -> bool:
    """Take a label off a recipient (adding it again later is a new event). True if it was there."""
    label = Label.objects.filter(name=label_name_clean(name)).first()
    if label is None:
        return False
    through = Recipient.labels.through
    deleted, _ = through.objects.filter(recipient_id=recipient.pk, label_id=label.pk).delete()
    return bool(deleted)
