"""One settings module, every deployment knob read from the environment.

Typed helpers raise ImproperlyConfigured on bad values so a typo fails at start-up,
not at the first request that needs it.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
# Production defaults (HTTPS-only cookies, redirects, HSTS, hashed static files) apply unless
# developing or testing; each can still be set explicitly.
PRODUCTION = not (DEBUG or TESTING)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL used in emails (unsubscribe links) and outbound webhooks.
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "csp",
    "template_partials",
    # Before django_q: its `qcluster` command replaces django-q2's (graceful SIGTERM, heartbeat).
    "outreach",
    "django_q",
    "anymail",
    # The API docs page with its own static files (no CDN, so the CSP holds).
    "ninja",
    # Request and latency metrics for /metrics (outreach/metrics.py adds the application's own).
    "django_prometheus",
    "review",
    "campaigns",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions and CSRF: an oversized API body is refused (JSON 413) before anything reads it.
    "outreach.integrations.middleware.ApiBodyLimitMiddleware",
    # Errors under the API root answer JSON, whoever produced them (Django's 404, ninja's 405).
    "outreach.integrations.middleware.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it sees the outcome of authentication (django-axes' requirement).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "outreach.urls"
WSGI_APPLICATION = "outreach.wsgi.application"
ASGI_APPLICATION = "outreach.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's base templates, then each part of the outreach app keeps its own pages.
        "DIRS": [BASE_DIR / "templates"]
        + [BASE_DIR / "outreach" / part / "templates" for part in ("people", "suppression", "mail", "integrations")],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% partialdef %} everywhere, as Django 6 has it built in.
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "outreach.context_processors.roles",
                "outreach.context_processors.mailbox_alerts",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60))}
IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
# A persistent connection is checked before a request reuses it, so a database restart or
# failover costs a reconnect, not a failed request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if IS_SQLITE:
    # WAL lets the web process read while the worker writes; the busy timeout makes a writer
    # wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
elif env_bool("DATABASE_PREPARED_STATEMENTS", True):
    # Parameters bound by the server and statements prepared after five uses: the queries every
    # request repeats are planned once per connection (planning the review queue's detail query
    # took 1 ms). Set DATABASE_PREPARED_STATEMENTS=0 behind a pooler that cannot keep prepared
    # statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login attempts are rate-limited per username and IP (django-axes): 5 failures lock that pair
# out for 15 minutes. Tests log in with force_login, which bypasses backends, so axes is off there.
AXES_ENABLED = env_bool("AXES_ENABLED", not TESTING)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AUTHENTICATION_BACKENDS = [
    *(["axes.backends.AxesStandaloneBackend"] if AXES_ENABLED else []),
    "outreach.people.roles.RoleModelBackend",  # ModelBackend, one query fewer per request
]
# Loaded with the user on every request (one LEFT JOIN, no extra query): the review queue reads the
# reviewer's settings without a query of its own.
AUTH_USER_SELECT_RELATED = ["review_settings"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
# CSV uploads larger than this are streamed to disk rather than held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The largest request body besides uploaded files; an API request over it gets a JSON 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- CSV import ------------------------------------------------------------------------------
# Largest CSV accepted in the browser; the import streams it, so this only bounds disk use.
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 200)

# --- Background tasks (django-q2) ----------------------------------------------------------
# The ORM broker (the database: nothing extra to run) unless REDIS_URL or Q_BROKER=redis picks
# Redis. Either way rows are the truth: a task lost with the broker is re-enqueued by a sweeper.
# timeout < retry, both above the longest task (a drafting call: SDK timeout x retries), so a
# task still running is never handed to a second worker.
REDIS_URL = env_str("REDIS_URL")
Q_BROKER = env_str("Q_BROKER", "redis" if REDIS_URL else "orm").strip().lower()
if Q_BROKER not in {"orm", "redis"}:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', got {Q_BROKER!r}")
if Q_BROKER == "redis" and not REDIS_URL:
    REDIS_URL = "redis://127.0.0.1:6379/0"
if REDIS_URL and "socket_timeout" not in REDIS_URL:
    # A Redis that does not answer fails an enqueue in seconds instead of hanging the request.
    REDIS_URL += ("&" if "?" in REDIS_URL else "?") + "socket_connect_timeout=3&socket_timeout=10"
Q_TASK_TIMEOUT = env_int("Q_TASK_TIMEOUT", 300)
Q_WORKERS = env_int("Q_WORKERS", 2)
Q_CLUSTER = {
    "name": "outreach",
    "workers": Q_WORKERS,
    "timeout": Q_TASK_TIMEOUT,
    "retry": Q_TASK_TIMEOUT + 60,
    "max_attempts": 3,
    "save_limit": 1000,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    # Tasks a cluster takes ahead of its workers: few, so a stopping cluster has little to hand back.
    "queue_limit": Q_WORKERS,
    "sync": env_bool("Q_SYNC", False),
    **({"redis": REDIS_URL} if Q_BROKER == "redis" else {"orm": "default"}),
}

# --- Drafting (LLM) -------------------------------------------------------------------------
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL") or None
ANTHROPIC_MODEL = env_str("ANTHROPIC_MODEL", "claude-sonnet-4-6")
ANTHROPIC_TIMEOUT_SECONDS = env_int("ANTHROPIC_TIMEOUT_SECONDS", 60)
ANTHROPIC_MAX_RETRIES = env_int("ANTHROPIC_MAX_RETRIES", 2)
# "anthropic" or "offline"; by default Anthropic when a key is set, otherwise offline.
DRAFTING_PROVIDER = env_str("DRAFTING_PROVIDER", "anthropic" if ANTHROPIC_API_KEY else "offline")
# The organization's own domains: links and addresses on them (and their subdomains) need no fact
# to be supported in a draft; any other link or address needs a trusted source (issue 16).
OWN_DOMAINS = [d.lower().lstrip(".") for d in env_list("OWN_DOMAINS", [])]
# With Anthropic: one more, small call per draft that has flagged names, events, figures or dates,
# asking the model which facts (if any) state them; shown beside the flag, never instead of it.
GROUNDING_SECOND_OPINION = env_bool("GROUNDING_SECOND_OPINION", False)
# With Anthropic: more drafts than this requested together (a launch, a scan, a bulk request) go
# through the Message Batches API at half the price, ready within the hour instead of at once.
# 0 turns batches off.
DRAFT_BATCH_THRESHOLD = env_int("DRAFT_BATCH_THRESHOLD", 20)
if DRAFTING_PROVIDER not in {"anthropic", "offline"}:
    raise ImproperlyConfigured("DRAFTING_PROVIDER must be 'anthropic' or 'offline'")
if ANTHROPIC_TIMEOUT_SECONDS * (ANTHROPIC_MAX_RETRIES + 1) >= Q_TASK_TIMEOUT:
    raise ImproperlyConfigured("Q_TASK_TIMEOUT must exceed the drafting call's worst case")

# --- Email ----------------------------------------------------------------------------------
# Any Django email backend: SMTP (EMAIL_HOST...), an anymail provider
# ("anymail.backends.resend.EmailBackend"), or the local mailbox used by the demo.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    # The demo's local mailbox (read at /mailbox/) when developing.
    "outreach.mail.local_mailbox.LocalMailboxBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "outreach@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# CAN-SPAM: every email's footer carries the sender company's postal address.
COMPANY_POSTAL_ADDRESS = env_str("COMPANY_POSTAL_ADDRESS", "Example Co., 1 Demo Street, Springfield")
ANYMAIL = {
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET") or None,
    "RESEND_API_KEY": env_str("RESEND_API_KEY") or None,
    "RESEND_SIGNING_SECRET": env_str("RESEND_SIGNING_SECRET") or None,
    "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN") or None,
    "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY") or None,
    "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY") or None,
    "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN") or None,
}
ANYMAIL = {k: v for k, v in ANYMAIL.items() if v is not None}
# Replies for SMTP setups: `manage.py poll_replies` reads unseen mail from this IMAP mailbox.
# Sender domain checks (SPF, DMARC, DKIM): the DNS server asked ("" = the system's resolver;
# "host" or "host:port"), and how long to wait for it.
DNS_RESOLVER = env_str("DNS_RESOLVER")
DNS_TIMEOUT_SECONDS = env_int("DNS_TIMEOUT_SECONDS", 5)
# SpamAssassin's spamd scores each draft shown in review when set (Debian package `spamassassin`).
SPAMD_HOST = env_str("SPAMD_HOST")
SPAMD_PORT = env_int("SPAMD_PORT", 783)
SPAMD_TIMEOUT_SECONDS = env_int("SPAMD_TIMEOUT_SECONDS", 5)
IMAP_HOST = env_str("IMAP_HOST")
IMAP_PORT = env_int("IMAP_PORT", 993)
IMAP_SSL = env_bool("IMAP_SSL", True)
IMAP_USER = env_str("IMAP_USER")
IMAP_PASSWORD = env_str("IMAP_PASSWORD")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX")

# Each team member's own mailbox ("My mailboxes"): how often the worker reads every connected
# mailbox, how long one IMAP call may take, and the largest body read (bigger ones: headers only).
MAILBOX_SYNC_INTERVAL_SECONDS = env_int("MAILBOX_SYNC_INTERVAL_SECONDS", 60)
MAILBOX_IMAP_TIMEOUT = env_int("MAILBOX_IMAP_TIMEOUT", 30)
MAILBOX_MAX_BODY_BYTES = env_int("MAILBOX_MAX_BODY_BYTES", 2_000_000)
# When a mailbox's cursor is void (IMAP UIDVALIDITY changed, Gmail history id or Graph delta
# token expired), what arrived since connecting is read again, going back at most this many days.
MAILBOX_RESYNC_DAYS = env_int("MAILBOX_RESYNC_DAYS", 14)
if MAILBOX_SYNC_INTERVAL_SECONDS < 5:
    raise ImproperlyConfigured("MAILBOX_SYNC_INTERVAL_SECONDS must be at least 5")
# IMAP IDLE (`manage.py idle_mailboxes`, a process beside the worker): one kept-open connection per
# connected IMAP mailbox whose server offers IDLE, so a reply is read within seconds. IDLE is
# issued again every MAILBOX_IDLE_RENEW_SECONDS (servers may drop an IDLE after 30 minutes: RFC
# 2177 says re-issue at least every 29), a dropped connection is retried after 1, 2, 4… seconds up
# to MAILBOX_IDLE_BACKOFF_MAX_SECONDS, at most MAILBOX_IDLE_MAX_MAILBOXES connections are held (the
# rest are read on the schedule), and the list of mailboxes is read again every
# MAILBOX_IDLE_RESCAN_SECONDS.
MAILBOX_IDLE_RENEW_SECONDS = env_int("MAILBOX_IDLE_RENEW_SECONDS", 25 * 60)
MAILBOX_IDLE_BACKOFF_MAX_SECONDS = env_int("MAILBOX_IDLE_BACKOFF_MAX_SECONDS", 300)
MAILBOX_IDLE_MAX_MAILBOXES = env_int("MAILBOX_IDLE_MAX_MAILBOXES", 100)
MAILBOX_IDLE_RESCAN_SECONDS = env_int("MAILBOX_IDLE_RESCAN_SECONDS", 30)
if not 1 <= MAILBOX_IDLE_RENEW_SECONDS <= 29 * 60:
    raise ImproperlyConfigured("MAILBOX_IDLE_RENEW_SECONDS must be between 1 and 1740 (29 minutes)")
# Google (Gmail API) and Microsoft 365 (Graph) mailboxes, connected with OAuth 2.0 (authorization
# code with PKCE). A provider's "Connect" button shows only when its client id is set. The URLs
# are settings so tests (and sovereign clouds) point them elsewhere.
GOOGLE_OAUTH_CLIENT_ID = env_str("GOOGLE_OAUTH_CLIENT_ID")
GOOGLE_OAUTH_CLIENT_SECRET = env_str("GOOGLE_OAUTH_CLIENT_SECRET")
GOOGLE_OAUTH_AUTHORIZE_URL = env_str("GOOGLE_OAUTH_AUTHORIZE_URL", "https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_OAUTH_TOKEN_URL = env_str("GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token")
GOOGLE_OAUTH_REVOKE_URL = env_str("GOOGLE_OAUTH_REVOKE_URL", "https://oauth2.googleapis.com/revoke")
GMAIL_API_BASE_URL = env_str("GMAIL_API_BASE_URL", "https://gmail.googleapis.com").rstrip("/")
MICROSOFT_OAUTH_CLIENT_ID = env_str("MICROSOFT_OAUTH_CLIENT_ID")
MICROSOFT_OAUTH_CLIENT_SECRET = env_str("MICROSOFT_OAUTH_CLIENT_SECRET")
MICROSOFT_OAUTH_AUTHORIZE_URL = env_str(
    "MICROSOFT_OAUTH_AUTHORIZE_URL", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
)
MICROSOFT_OAUTH_TOKEN_URL = env_str(
    "MICROSOFT_OAUTH_TOKEN_URL", "https://login.microsoftonline.com/common/oauth2/v2.0/token"
)
GRAPH_API_BASE_URL = env_str("GRAPH_API_BASE_URL", "https://graph.microsoft.com/v1.0").rstrip("/")
# Any other provider whose IMAP and SMTP servers accept OAuth 2.0 access tokens (SASL XOAUTH2):
# one provider per installation, configured here. "Connect <MAILBOX_OAUTH_LABEL>" shows on My
# mailboxes when MAILBOX_OAUTH_CLIENT_ID is set; the person types their address, authorizes at
# the provider (authorization code with PKCE), and the tokens log in to the servers below.
MAILBOX_OAUTH_LABEL = env_str("MAILBOX_OAUTH_LABEL", "your mail provider")
MAILBOX_OAUTH_CLIENT_ID = env_str("MAILBOX_OAUTH_CLIENT_ID")
MAILBOX_OAUTH_CLIENT_SECRET = env_str("MAILBOX_OAUTH_CLIENT_SECRET")
MAILBOX_OAUTH_AUTHORIZE_URL = env_str("MAILBOX_OAUTH_AUTHORIZE_URL")
MAILBOX_OAUTH_TOKEN_URL = env_str("MAILBOX_OAUTH_TOKEN_URL")
MAILBOX_OAUTH_REVOKE_URL = env_str("MAILBOX_OAUTH_REVOKE_URL")  # RFC 7009; empty: not revocable
MAILBOX_OAUTH_SCOPES = env_str("MAILBOX_OAUTH_SCOPES")  # space-separated, as the provider names them
MAILBOX_OAUTH_IMAP_HOST = env_str("MAILBOX_OAUTH_IMAP_HOST")
MAILBOX_OAUTH_IMAP_PORT = env_int("MAILBOX_OAUTH_IMAP_PORT", 993)
MAILBOX_OAUTH_IMAP_SECURITY = env_str("MAILBOX_OAUTH_IMAP_SECURITY", "ssl")
MAILBOX_OAUTH_SMTP_HOST = env_str("MAILBOX_OAUTH_SMTP_HOST")
MAILBOX_OAUTH_SMTP_PORT = env_int("MAILBOX_OAUTH_SMTP_PORT", 587)
MAILBOX_OAUTH_SMTP_SECURITY = env_str("MAILBOX_OAUTH_SMTP_SECURITY", "starttls")
for _name in ("MAILBOX_OAUTH_IMAP_SECURITY", "MAILBOX_OAUTH_SMTP_SECURITY"):
    if globals()[_name] not in ("ssl", "starttls", "none"):
        raise ImproperlyConfigured(f"{_name} must be ssl, starttls or none")
if MAILBOX_OAUTH_CLIENT_ID and not (
    MAILBOX_OAUTH_AUTHORIZE_URL and MAILBOX_OAUTH_TOKEN_URL and MAILBOX_OAUTH_IMAP_HOST and MAILBOX_OAUTH_SMTP_HOST
):
    raise ImproperlyConfigured(
        "MAILBOX_OAUTH_CLIENT_ID needs MAILBOX_OAUTH_AUTHORIZE_URL, MAILBOX_OAUTH_TOKEN_URL, "
        "MAILBOX_OAUTH_IMAP_HOST and MAILBOX_OAUTH_SMTP_HOST"
    )
# One mail API call (Gmail, Graph) may take this long; a 429 whose Retry-After is at most
# MAILBOX_API_RETRY_AFTER_MAX_SECONDS is waited out in place (up to 3 times), a longer one ends the
# pass (or defers the send) until then.
MAILBOX_API_TIMEOUT = env_int("MAILBOX_API_TIMEOUT", 30)
MAILBOX_API_RETRY_AFTER_MAX_SECONDS = env_int("MAILBOX_API_RETRY_AFTER_MAX_SECONDS", 5)

# --- Suppression ----------------------------------------------------------------------------
# Recipients in these countries (ISO 3166-1 alpha-2) need recorded consent to be contacted.
CONSENT_REQUIRED_COUNTRIES = frozenset(
    c.upper()
    for c in env_list(
        "CONSENT_REQUIRED_COUNTRIES",
        [
            "AT",
            "BE",
            "BG",
            "HR",
            "CY",
            "CZ",
            "DK",
            "EE",
            "FI",
            "FR",
            "DE",
            "GR",
            "HU",
            "IE",
            "IT",
            "LV",
            "LT",
            "LU",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SK",
            "SI",
            "ES",
            "SE",
            "IS",
            "LI",
            "NO",
            "GB",
            "CA",
        ],
    )
)

# --- REST API and outbound webhooks ------------------------------------------------------------
# Requests per token per minute: a token bucket of this many, refilled continuously, kept in the
# database so all processes agree.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)
# Outbound webhook deliveries: HTTP timeout and how many attempts before giving up.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)

# --- Security -------------------------------------------------------------------------------
# Hosts a user types (webhook subscriber URLs, one's own SMTP server) may resolve to loopback,
# private and link-local networks only in development (and tests, whose servers listen on
# 127.0.0.1): in production they would let a user reach internal services. The old name
# WEBHOOK_ALLOW_PRIVATE_ADDRESSES is still read when the new one is not set.
ALLOW_PRIVATE_NETWORK_DESTINATIONS = env_bool(
    "ALLOW_PRIVATE_NETWORK_DESTINATIONS", env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", not PRODUCTION)
)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp): scripts only from our own static files, so no inline
# <script>, no inline event handlers and no hx-on attributes. Inline style attributes are allowed
# (chart bars); htmx's own indicator <style> is turned off in base.html instead.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Operations: health, metrics, logs, error reports -----------------------------------------
# /healthz and /readyz need no login; the load balancer's probe may come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# /readyz fails when the newest worker heartbeat is older than this, or when a draft, send or
# webhook delivery has waited longer than READY_QUEUE_MAX_AGE_SECONDS for a worker.
READY_WORKER_MAX_AGE_SECONDS = env_int("READY_WORKER_MAX_AGE_SECONDS", 60)
READY_QUEUE_MAX_AGE_SECONDS = env_int("READY_QUEUE_MAX_AGE_SECONDS", 1800)
# /metrics (Prometheus) answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, it is off.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# "text" (default) or "json": one JSON object per line, for log shippers.
LOG_FORMAT = env_str("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "outreach.logs.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", **({"formatter": "json"} if LOG_FORMAT == "json" else {})}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
# Error reports to Sentry (or a Sentry-compatible service) when set; needs `pip install sentry-sdk`.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    try:
        import sentry_sdk
    except ImportError:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed (pip install sentry-sdk)"
        ) from None
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production" if PRODUCTION else "development"),
        # No request bodies, cookies, user names or addresses: the people we email are not ours to share.
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=0.0,
    )

# --- Sending (outbox) -----------------------------------------------------------------------
# A Fernet key for secrets stored in the database (SMTP passwords); derived from SECRET_KEY when empty.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")
# Key of the opaque public ids (ctc_…, seq_…) the API shows; changing it changes every id.
PUBLIC_ID_KEY = env_str("PUBLIC_ID_KEY")
SEND_MAX_ATTEMPTS = env_int("SEND_MAX_ATTEMPTS", 5)  # provider calls before a transient error fails the send
SEND_RETRY_BASE_SECONDS = env_int("SEND_RETRY_BASE_SECONDS", 60)  # backoff: base * 2**(attempt-1)
SEND_LEASE_SECONDS = env_int("SEND_LEASE_SECONDS", 600)  # a row left "sending" longer is resolved by recovery
DUPLICATE_WINDOW_DAYS = env_int("DUPLICATE_WINDOW_DAYS", 30)  # same content or step to the same person
# After an approval the email is held this long, so the reviewer can undo it (0 turns undo off).
APPROVE_UNDO_SECONDS = env_int("APPROVE_UNDO_SECONDS", 10)
if APPROVE_UNDO_SECONDS < 0:
    raise ImproperlyConfigured("APPROVE_UNDO_SECONDS must be 0 (off) or more")
# Automatic brakes: a sender (and a sending domain) pauses when its recent sends bounce or draw
# complaints above these rates; a person resumes it. Counted over sends since the last resume.
BRAKE_BOUNCE_PERCENT = env_float("BRAKE_BOUNCE_PERCENT", 5.0)  # hard bounces, over the last…
BRAKE_BOUNCE_WINDOW = env_int("BRAKE_BOUNCE_WINDOW", 100)  # …this many sends
BRAKE_COMPLAINT_PERCENT = env_float("BRAKE_COMPLAINT_PERCENT", 0.1)  # spam complaints, over the last…
BRAKE_COMPLAINT_WINDOW = env_int("BRAKE_COMPLAINT_WINDOW", 1000)  # …this many sends
BRAKE_MIN_SENDS = env_int("BRAKE_MIN_SENDS", 20)  # fewer sends than this: too few to judge a rate
# Ramp-up of a new sender (SenderProfile.ramp_up_from set): the first day's limit, and how much it
# grows each day until it reaches the sender's daily limit.
RAMP_UP_START_PER_DAY = env_int("RAMP_UP_START_PER_DAY", 20)
RAMP_UP_GROWTH_PERCENT = env_float("RAMP_UP_GROWTH_PERCENT", 40.0)
if RAMP_UP_START_PER_DAY < 1 or RAMP_UP_GROWTH_PERCENT <= 0:
    raise ImproperlyConfigured("RAMP_UP_START_PER_DAY must be at least 1 and RAMP_UP_GROWTH_PERCENT above 0")
if not (0 < BRAKE_BOUNCE_PERCENT <= 100 and 0 < BRAKE_COMPLAINT_PERCENT <= 100):
    raise ImproperlyConfigured("BRAKE_BOUNCE_PERCENT and BRAKE_COMPLAINT_PERCENT must be between 0 and 100")
if min(BRAKE_BOUNCE_WINDOW, BRAKE_COMPLAINT_WINDOW, BRAKE_MIN_SENDS) < 1:
    raise ImproperlyConfigured("BRAKE_BOUNCE_WINDOW, BRAKE_COMPLAINT_WINDOW and BRAKE_MIN_SENDS must be at least 1")
if SEND_LEASE_SECONDS <= EMAIL_TIMEOUT * 2:
    raise ImproperlyConfigured("SEND_LEASE_SECONDS must comfortably exceed EMAIL_TIMEOUT")
