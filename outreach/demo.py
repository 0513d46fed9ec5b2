"""Demo data a user can explore at once. Idempotent: running it twice changes nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from outreach.mail.services.mailboxes import LOCAL_BACKEND, mailbox_connect_local
from outreach.people.models import Account, Fact, Label, Recipient, SenderProfile
from outreach.people.roles import ADMIN, CSM, REP
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add, suppression_list_get_global

DEMO_PASSWORD = "outreach-demo"

TEAM = [
    # username, first, last, role, title
    ("rita", "Rita", "Ramos", REP, "Account Executive"),
    ("carl", "Carl", "Chen", CSM, "Customer Success Manager"),
    ("ada", "Ada", "Adeyemi", ADMIN, "Head of Revenue Operations"),
]

ACCOUNTS = [
    # name, domain, plan, state, renewal in days
    ("Acme Logistics", "acme-logistics.example", "Growth", "active", 24),
    ("Birch Health", "birchhealth.example", "Starter", "onboarding", 200),
    ("Cobalt Retail", "cobaltretail.example", "Enterprise", "at_risk", 18),
    ("Delta Foods", "deltafoods.example", "Starter", "trial", None),
    ("Evergreen Bank", "evergreenbank.example", "Enterprise", "active", 95),
    ("Fjord Energy", "fjord-energy.example", "Growth", "active", 29),
    ("Granite Labs", "granitelabs.example", "Starter", "churned", None),
]
# The CRM's account risk score (0-100): the "risk score crosses 70" demo campaign watches it.
RISK_SCORES = {"Acme Logistics": 35, "Birch Health": 52, "Cobalt Retail": 64, "Delta Foods": 41,
               "Evergreen Bank": 12, "Fjord Energy": 58, "Granite Labs": 90}  # fmt: skip

FIRST = [
    "Liu",
    "Priya",
    "Marco",
    "Sofia",
    "Jonas",
    "Amara",
    "Kenji",
    "Elena",
    "Tom",
    "Fatima",
    "Noah",
    "Ines",
    "Omar",
    "Grace",
    "Mateo",
    "Hana",
    "Lars",
    "Zoe",
    "Ravi",
    "Chloe",
    "Diego",
    "Anya",
    "Felix",
    "Mei",
    "Samuel",
]
LAST = [
    "Yang",
    "Patel",
    "Rossi",
    "Novak",
    "Berg",
    "Okafor",
    "Sato",
    "Garcia",
    "Walsh",
    "Haddad",
    "Schmidt",
    "Costa",
    "Nasser",
    "Kim",
    "Lopez",
    "Tanaka",
    "Nilsen",
    "Martin",
    "Iyer",
    "Dubois",
    "Silva",
    "Ivanova",
    "Wolf",
    "Chen",
    "Adams",
]
TITLES = [
    "Operations Manager",
    "Head of Finance",
    "CTO",
    "Product Lead",
    "IT Administrator",
    "VP Sales",
    "Customer Support Lead",
    "Data Analyst",
    "COO",
    "Marketing Director",
]
COUNTRIES = ["US", "US", "US", "GB", "DE", "CA", "AU", "US", "NL", "US"]


def _facts_for(
    rng: random.Random, recipient: Recipient, account: Account, today: date
) -> list[tuple[str, str, str, datetime]]:
    def when(days_ago: int) -> datetime:
        return timezone.make_aware(datetime.combine(today - timedelta(days=days_ago), datetime.min.time()))

    logins = rng.randint(2, 40)
    month = (today.replace(day=1) - timedelta(days=1)).strftime("%B")
    facts = [
        ("profile", f"{recipient.full_name}, {recipient.title} at {account.name}", "crm", when(120)),
        ("account", f"Plan: {account.plan}", "billing", when(30)),
        ("usage", f"Logged in {logins} times in {month}", "product analytics", when(rng.randint(1, 20))),
    ]
    if account.renewal_date:
        facts.append(("account", f"Contract renews on {account.renewal_date.isoformat()}", "billing", when(10)))
        facts.append(
            ("account", f"Contract value {rng.choice([4800, 8400, 12000, 26000])} EUR per year", "billing", when(60))
        )
    signup = today - timedelta(days=rng.randint(12, 300))
    facts.append(("milestone_reached", f"Signed up {signup.isoformat()}", "crm", when((today - signup).days)))
    if account.state == "onboarding":
        facts.append(
            (
                "milestone_missed",
                "Has not connected a data source yet (onboarding step 2)",
                "product analytics",
                when(rng.randint(10, 14)),
            )
        )
    if rng.random() < 0.4:
        facts.append(
            (
                "content",
                rng.choice(
                    [
                        "Downloaded the 'Churn Playbook' guide",
                        "Attended the webinar 'Forecasting 101'",
                        "Read the release notes for Scheduled Reports",
                    ]
                ),
                "marketing",
                when(rng.randint(2, 25)),
            )
        )
    if rng.random() < 0.3:
        facts.append(
            (
                "support_ticket",
                rng.choice(
                    [
                        "Opened a ticket about CSV export timeouts (resolved)",
                        "Asked how to add SSO users",
                        "Reported a billing address typo (resolved)",
                    ]
                ),
                "helpdesk",
                when(rng.randint(3, 40)),
            )
        )
    if account.state == "at_risk":
        facts.append(("usage", "Weekly active users dropped 42% over the last 14 days", "product analytics", when(2)))
    return facts


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    rng = random.Random(20261126)
    today = timezone.localdate()
    User = get_user_model()
    team = {}
    for username, first, last, role, title in TEAM:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@outreach.example"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = role == ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        SenderProfile.objects.update_or_create(
            user=user,
            defaults={
                "display_name": f"{first} {last}",
                "email": f"{username}@outreach.example",
                "title": title,
                "company": "Outreach Review Demo Co.",
                "signature": f"{first} {last}\n{title}, Outreach Review Demo Co.",
                "persona_tone": "warm, concise, no hype",
            },
        )
        team[role] = user
        # Each demo sender's own mailbox: the local development mailbox plays it, so a simulated
        # reply (manage.py simulate_reply) travels the same sync path as a real one.
        if settings.EMAIL_BACKEND == LOCAL_BACKEND:
            mailbox_connect_local(user=user, email_address=f"{username}@outreach.example")
    accounts = []
    for name, domain, plan, state, renew in ACCOUNTS:
        account, _ = Account.objects.update_or_create(
            name=name,
            defaults={
                "domain": domain,
                "plan": plan,
                "state": state,
                "renewal_date": today + timedelta(days=renew) if renew else None,
                "properties": {"risk_score": RISK_SCORES[name]},
            },
        )
        accounts.append(account)
    labels = {
        name: Label.objects.get_or_create(name=name)[0]
        for name in ("champion", "decision-maker", "proposal-open", "newsletter")
    }
    count = 0
    for i in range(50):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        account = accounts[i % len(accounts)]
        email = f"{first}.{last}@{account.domain}".lower()
        owner = team[REP] if i % 2 == 0 else team[CSM]
        country = COUNTRIES[i % len(COUNTRIES)]
        recipient, _ = Recipient.objects.update_or_create(
            email=email,
            defaults={
                "first_name": first,
                "last_name": last,
                "title": TITLES[i % len(TITLES)],
                "account": account,
                "owner": owner,
                "country": country,
                "time_zone": {
                    "US": "America/New_York",
                    "GB": "Europe/London",
                    "DE": "Europe/Berlin",
                    "CA": "America/Toronto",
                    "AU": "Australia/Sydney",
                    "NL": "Europe/Amsterdam",
                }[country],
                # Most Europeans consented; two did not, so the jurisdiction rule shows in the demo.
                "consent_recorded_at": None
                if country in ("DE", "NL") and i % 3 == 0
                else timezone.now().replace(microsecond=0) - timedelta(days=90),
                "consent_open_tracking": i % 4 != 0,
                "lifecycle_stage": "customer" if account.state != "trial" else "trial",
            },
        )
        recipient.labels.set(rng.sample(list(labels.values()), k=rng.randint(0, 2)))
        for kind, text, source, observed in _facts_for(rng, recipient, account, today):
            Fact.objects.update_or_create(
                recipient=recipient,
                kind=kind,
                text=text,
                observed_at=observed,
                defaults={"source": source, "origin": Fact.Origin.CRM_SYNC},
            )
        count += 1
    global_list = suppression_list_get_global()
    suppression_add(
        kind=Suppression.Kind.DOMAIN,
        value="granitelabs.example",
        reason=Suppression.Reason.CUSTOMER_FREEZE,
        suppression_list=global_list,
        note="Churned; legal asked us to stop all outreach.",
        source="demo data",
        added_by=team[ADMIN],
    )
    suppression_add(
        kind=Suppression.Kind.ADDRESS,
        value=f"{FIRST[1]}.{LAST[7]}@{accounts[1].domain}".lower(),
        reason=Suppression.Reason.UNSUBSCRIBED,
        suppression_list=global_list,
        source="demo data",
        added_by=team[ADMIN],
    )
    return {"team": len(team), "accounts": len(accounts), "recipients": count}
