"""The queue list's rows, built in Python: fifty rows of a dozen template lookups each were most
of the queue page's rendering time, and format_html's per-argument machinery still cost 90 µs a
row (measured with tests/benchmarks/bench_review.py). Every text value goes through html.escape."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from review.models import Draft

register = template.Library()


@register.simple_tag
def queue_items(drafts: Iterable[Draft], filter_qs: str, state: str = "ready") -> SafeString:
    """One <li> per draft: who (and their account), subject, campaign, unsupported claims; the
    link opens the draft in place with htmx and works without JavaScript. A ready draft without
    unsupported claims has a checkbox (a 44 px target) to approve it with others; its value names
    the version seen, so a draft that changed since is not approved unseen."""
    selectable = state == "ready"
    queue_url = escape(reverse("review_queue"))
    detail_prefix = escape(reverse("draft_detail", args=[0])[: -len("0/")])
    href_filters = escape(f"&{filter_qs}") if filter_qs else ""
    get_filters = escape(f"?{filter_qs}") if filter_qs else ""
    rows = []
    for d in drafts:
        pk = int(d.pk)
        campaign = escape(d.campaign_name) if d.origin_id else "Ad hoc"
        n = int(d.unsupported_claim_count)
        badge = f' <span class="badge bad">{n} unsupported</span>' if n else ""
        check = ""
        if selectable:
            check = (
                '<span class="bulk-check" aria-hidden="true"></span>'
                if n
                else f'<label class="bulk-check"><input type="checkbox" name="draft" value="{pk}:{int(d.version)}"'
                f' form="bulk-form" data-bulk data-draft-id="{pk}"><span class="visually-hidden">'
                f"Select {escape(_who(d))} to approve together</span></label>"
            )
        rows.append(
            f'<li class="qi-row">{check}<a class="queue-item" id="queue-item-{pk}" data-draft-id="{pk}"'
            f' href="{queue_url}?draft={pk}{href_filters}" hx-get="{detail_prefix}{pk}/{get_filters}"'
            ' hx-target="#detail" hx-swap="innerHTML">'
            f'<span class="qi-who">{escape(_who(d))}</span>'
            f'<span class="subj">{escape(d.subject or "(no subject yet)")}</span>'
            f'<span class="meta">{campaign}{badge}</span></a></li>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - built above from escaped values and integers


def _who(draft: Draft) -> str:
    recipient = draft.recipient
    who = recipient.full_name or recipient.email
    return f"{who} · {recipient.account.name}" if recipient.account else who
