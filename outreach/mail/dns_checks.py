"""What a sending domain publishes in DNS for mailbox providers: SPF, DMARC and DKIM, read with
dnspython and told in plain words (present / missing / wrong, and what to add).

Pure over DNS: no database. The resolver is `DNS_RESOLVER` ("" = the system's; "host" or
"host:port" = that server only), so tests point it at their own DNS server on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import dns.exception
import dns.resolver
from django.conf import settings

OK, MISSING, WRONG, WARN, UNKNOWN = "present", "missing", "wrong", "weak", "unknown"

# DKIM selectors the usual providers publish (the admin adds others on the Domains page).
PROVIDER_SELECTORS: dict[str, tuple[str, ...]] = {
    "resend": ("resend",),
    "sendgrid": ("s1", "s2"),
    "mailgun": ("k1", "mx", "smtp", "mailo"),
    "google": ("google",),
    "microsoft": ("selector1", "selector2"),
    "amazon_ses": (),  # random tokens per domain: the admin enters them
    "postmark": (),  # dated selectors (20240101123456pm): the admin enters them
}
# The SPF include each provider asks for, by the backend's name.
PROVIDER_SPF_INCLUDE = {
    "resend": "amazonses.com",
    "amazon_ses": "amazonses.com",
    "sendgrid": "sendgrid.net",
    "mailgun": "mailgun.org",
    "postmark": "spf.mtasv.net",
}
DMARC_POLICIES = {"none", "quarantine", "reject"}


@dataclass(frozen=True)
class RecordCheck:
    """One record's verdict: status, what we found, and what to do about it in words."""

    kind: str  # spf | dmarc | dkim
    status: str  # present | weak | missing | wrong | unknown
    summary: str
    fix: str = ""
    records: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return self.status in (OK, WARN)


@dataclass(frozen=True)
class DomainReport:
    domain: str
    spf: RecordCheck
    dmarc: RecordCheck
    dkim: RecordCheck

    @property
    def checks(self) -> list[RecordCheck]:
        return [self.spf, self.dmarc, self.dkim]

    @property
    def passes(self) -> bool:
        return all(check.passes for check in self.checks)

    def as_dict(self) -> dict:
        return {check.kind: asdict(check) for check in self.checks}


def provider_name(backend_path: str) -> str:
    """'anymail.backends.resend.EmailBackend' -> 'resend'; '' when it is not a known provider."""
    for name in PROVIDER_SPF_INCLUDE:
        if f".{name}." in backend_path:
            return name
    return ""


def resolver() -> dns.resolver.Resolver:
    configured = (settings.DNS_RESOLVER or "").strip()
    if not configured:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        host, _, port = configured.rpartition(":") if configured.count(":") == 1 else (configured, "", "")
        found.nameservers = [host or configured]
        if port:
            found.port = int(port)
    found.lifetime = settings.DNS_TIMEOUT_SECONDS
    found.timeout = settings.DNS_TIMEOUT_SECONDS
    return found


class LookupFailed(Exception):
    pass


def txt_records(name: str, *, using: dns.resolver.Resolver) -> list[str]:
    """The TXT strings at a name ([] when it has none); LookupFailed when DNS did not answer."""
    try:
        answer = using.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupFailed(f"DNS did not answer for {name}: {exc.__class__.__name__}") from exc
    return [b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer]


def check_spf(domain: str, *, using, provider: str = "") -> RecordCheck:
    try:
        found = [r for r in txt_records(domain, using=using) if r.lower().startswith("v=spf1")]
    except LookupFailed as exc:
        return RecordCheck("spf", UNKNOWN, str(exc), "Check again later.")
    include = PROVIDER_SPF_INCLUDE.get(provider, "")
    suggestion = f"v=spf1 include:{include} ~all" if include else "v=spf1 include:<your provider's SPF domain> ~all"
    if not found:
        return RecordCheck(
            "spf",
            MISSING,
            f"{domain} has no SPF record, so receivers cannot tell which servers may send as it.",
            f'Add a TXT record on {domain}: "{suggestion}".',
        )
    if len(found) > 1:
        return RecordCheck(
            "spf",
            WRONG,
            f"{domain} has {len(found)} SPF records; receivers treat that as an error (no SPF at all).",
            "Merge them into one TXT record starting v=spf1.",
            found,
        )
    record = found[0]
    terms = record.lower().split()
    if "+all" in terms or "all" in terms:
        return RecordCheck(
            "spf",
            WRONG,
            "The SPF record ends in +all: it lets every server on the internet send as this domain.",
            f'Replace it with "{suggestion}".',
            found,
        )
    if include and f"include:{include}" not in terms:
        return RecordCheck(
            "spf",
            WRONG,
            f"The SPF record does not include {include}, which the organization's provider sends from.",
            f"Add include:{include} before the all term.",
            found,
        )
    if not any(t in terms for t in ("~all", "-all")):
        return RecordCheck(
            "spf",
            WARN,
            "The SPF record does not end in ~all or -all, so it does not say which servers may not send.",
            "End it with ~all (soft fail) or -all.",
            found,
        )
    return RecordCheck("spf", OK, "SPF is published and names the servers that may send.", "", found)


def _dmarc_tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip()
    return tags


def check_dmarc(domain: str, *, using) -> RecordCheck:
    name = f"_dmarc.{domain}"
    suggestion = (
        f'Add a TXT record on {name}: "v=DMARC1; p=none; rua=mailto:dmarc@{domain}", then move to p=quarantine.'
    )
    try:
        found = [r for r in txt_records(name, using=using) if r.lower().startswith("v=dmarc1")]
    except LookupFailed as exc:
        return RecordCheck("dmarc", UNKNOWN, str(exc), "Check again later.")
    if not found:
        return RecordCheck(
            "dmarc",
            MISSING,
            f"{domain} has no DMARC record; Gmail and Yahoo require one from bulk senders.",
            suggestion,
        )
    if len(found) > 1:
        return RecordCheck(
            "dmarc",
            WRONG,
            f"{name} has {len(found)} DMARC records; receivers then apply none.",
            "Keep one TXT record starting v=DMARC1.",
            found,
        )
    tags = _dmarc_tags(found[0])
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        said = f"p={tags['p']}" if "p" in tags else "no p= tag"
        return RecordCheck(
            "dmarc",
            WRONG,
            f"The DMARC record has {said}; the policy must be none, quarantine or reject.",
            f'Write it as "v=DMARC1; p=none; rua=mailto:dmarc@{domain}" (or p=quarantine / p=reject).',
            found,
        )
    if policy == "none":
        return RecordCheck(
            "dmarc",
            WARN,
            "DMARC is published with p=none: receivers report but do not act on failures.",
            "Once reports show your mail passes, move to p=quarantine.",
            found,
        )
    return RecordCheck("dmarc", OK, f"DMARC is published with p={policy}.", "", found)


def check_dkim(domain: str, *, using, selectors: list[str]) -> RecordCheck:
    if not selectors:
        return RecordCheck(
            "dkim",
            UNKNOWN,
            "No DKIM selector is known for this domain's provider.",
            "Enter the selector your provider gave you (the part before ._domainkey) on the Domains page.",
        )
    found: list[str] = []
    revoked: list[str] = []
    for selector in selectors:
        try:
            records = txt_records(f"{selector}._domainkey.{domain}", using=using)
        except LookupFailed as exc:
            return RecordCheck("dkim", UNKNOWN, str(exc), "Check again later.")
        for record in records:
            tags = _dmarc_tags(record)
            if "p" in tags and tags["p"]:
                found.append(selector)
            elif "p" in tags:
                revoked.append(selector)
    if found:
        return RecordCheck(
            "dkim", OK, f"A DKIM key is published under {', '.join(sorted(set(found)))}.", "", sorted(set(found))
        )
    tried = ", ".join(selectors)
    if revoked:
        return RecordCheck(
            "dkim",
            WRONG,
            f"The DKIM key under {', '.join(revoked)} is empty (revoked).",
            "Publish the current key your provider shows, or enter its new selector.",
        )
    return RecordCheck(
        "dkim",
        MISSING,
        f"No DKIM key found under the selectors tried ({tried}).",
        "Add the DKIM record your provider gives you (a TXT or CNAME at <selector>._domainkey."
        f"{domain}), or enter its selector if it is another one.",
    )


def check_domain(domain: str, *, selectors: list[str], provider: str = "") -> DomainReport:
    """All three records of a domain. When DNS does not answer, the rest is not asked (each would wait
    the whole timeout again): every check is then "unknown" with the same reason."""
    using = resolver()
    spf = check_spf(domain, using=using, provider=provider)
    if spf.status == UNKNOWN:
        return DomainReport(
            domain=domain,
            spf=spf,
            dmarc=RecordCheck("dmarc", UNKNOWN, spf.summary, spf.fix),
            dkim=RecordCheck("dkim", UNKNOWN, spf.summary, spf.fix),
        )
    return DomainReport(
        domain=domain,
        spf=spf,
        dmarc=check_dmarc(domain, using=using),
        dkim=check_dkim(domain, using=using, selectors=selectors),
    )
