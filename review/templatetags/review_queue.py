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
def queue_items(drafts: Iterable[Draft], filter_qs: str) -> SafeString:
    """One <li> per draft: who (and their account), subject, campaign, unsupported claims; the
    link opens the draft in place with htmx and works without JavaScript."""
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
        rows.append(
            f'<li><a class="queue-item" id="queue-item-{pk}" data-draft-id="{pk}"'
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
