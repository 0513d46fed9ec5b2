"""Campaign settings in plain words for the pages: the send window, the target filter, fact kinds."""

from __future__ import annotations

from outreach.people.models import Fact

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _days(days: list[int]) -> str:
    days = sorted(set(days))
    if days == list(range(7)):
        return "every day"
    if days == [0, 1, 2, 3, 4]:
        return "Mon–Fri"
    if days == [5, 6]:
        return "weekends"
    runs: list[str] = []
    start = prev = days[0]
    for day in [*days[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        runs.append(DAY_NAMES[start] if start == prev else f"{DAY_NAMES[start]}–{DAY_NAMES[prev]}")
        if day is not None:
            start = prev = day
    return ", ".join(runs)


def send_window_words(window: dict | None) -> str:
    """ "Mon–Fri, 09:00–17:00 in each recipient's own time zone" or "Any time (no send window)"."""
    if not window or not (window.get("days") or window.get("start") or window.get("end")):
        return "Any time: no send window was chosen."
    days = [int(d) for d in window.get("days") or range(7)]
    start, end = window.get("start") or "00:00", window.get("end") or "24:00"
    return f"{_days(days)}, {start}–{end} in each recipient's own time zone."


TARGET_WORDS = {
    "plan": "account plan is {}",
    "account_state": "account state is {}",
    "title_contains": "role or title contains “{}”",
    "label": "has the label “{}”",
    "country": "country is {}",
    "fact_max_age_days": "that fact at most {} days old",
}


def target_filter_words(target_filter: dict | None) -> str:
    """ "account plan is Growth, and role or title contains “manager”" (never raw JSON)."""
    f = {k: v for k, v in (target_filter or {}).items() if v not in (None, "", [])}
    if not f:
        return "nobody chosen yet"
    parts = []
    for key, value in f.items():
        if key == "property_key":
            wanted, age = f.get("property_value"), f.get("property_older_than_days")
            if age:
                parts.append(f"custom property “{value}” is at least {age} days ago or not set")
            else:
                parts.append(f"custom property “{value}”" + (f" equals “{wanted}”" if wanted else " is set"))
        elif key in ("property_value", "property_older_than_days"):
            continue
        elif key == "fact_kind":
            parts.append(f"has a fact of kind “{fact_kind_words(str(value))}”")
        elif key in TARGET_WORDS:
            parts.append(TARGET_WORDS[key].format(value))
        else:
            parts.append(f"{key.replace('_', ' ')} is {value}")
    return ", and ".join(parts)


def rule_words(kind: str, parameters: dict | None) -> str:
    """A milestone rule in plain words: "When the account's risk_score rises to 70 or above"."""
    p = parameters or {}
    if kind == "renewal_within":
        return f"When the account's renewal date is within {p.get('days', 30)} days"
    if kind == "onboarding_missed":
        what = p.get("milestone_text") or "an onboarding milestone"
        return f"When {what} is not reached {p.get('days', 10)} days after signing up"
    if kind == "usage_drop":
        return f"When usage drops {p.get('percent', 40)} % or more over {p.get('days', 14)} days"
    if kind == "stage_changed":
        return f"When the lifecycle stage changes to “{p.get('stage', '')}”"
    if kind == "risk_crossed":
        whose = "the contact's" if p.get("of") == "contact" else "the account's"
        threshold = float(p.get("threshold", 0))
        moves = "rises to or above" if p.get("direction", "above") == "above" else "falls below"
        return f"When {whose} {p.get('property', '')} {moves} {threshold:g} (once per crossing)"
    if kind == "csm_handoff":
        return (
            f"When the lifecycle stage reaches “{p.get('stage', '')}” and the owner is a CSM: "
            "the owner sends the handoff"
        )
    return kind.replace("_", " ")


def fact_kind_words(kind: str) -> str:
    return str(dict(Fact.Kind.choices).get(kind, kind.replace("_", " ")))


EVENT_WORDS = {
    "enrolled": "Enrolled",
    "draft_requested": "Draft requested",
    "approved": "Draft approved",
    "approval_undone": "Approval undone",
    "draft_rejected": "Draft rejected",
    "drafts_superseded": "Open drafts withdrawn",
    "sent": "Sent",
    "send_failed": "Send failed",
    "send_failed_continue": "Send failed; the sequence goes on",
    "completed": "Completed",
    "exited_reply": "Exited on reply",
    "exit_condition": "Exit condition judged",
    "exit_condition_error": "Exit condition could not be judged",
    "suppressed": "Suppressed",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


def event_kind_words(kind: str) -> str:
    return EVENT_WORDS.get(kind) or kind.replace("_", " ").capitalize()


SKIP_WORDS = {
    "suppressed": "Skipped: suppressed",
    "already_open": "Skipped: an email for them was already open",
    "no_sender": "Skipped: nobody to send it",
}


def skip_code_words(code: str) -> str:
    return SKIP_WORDS.get(code) or f"Skipped: {code.replace('_', ' ')}"
