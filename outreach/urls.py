"""Project wiring: every app's URLs; nothing imports this module."""

from anymail import urls as anymail_urls
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns.api import router as campaigns_api
from outreach import health, metrics, views
from outreach.integrations.api import router as outreach_api
from outreach.integrations.api_inboxes import router as inboxes_api
from outreach.integrations.api_root import api, api_alias_urls, exempt_from_login
from review import views as review_views
from review.api import router as review_api

# REST API: one NinjaAPI under /v1/ (and /api/v1/, the older prefix, as an alias serving the same
# routes and the same schema); every app contributes its router.
api.add_router("", outreach_api)
api.add_router("", inboxes_api)
api.add_router("", review_api)
api.add_router("", campaigns_api)

# Webhooks only for providers whose webhook settings we read: anymail's views for the others
# answer any request with a 500 (AnymailConfigurationError; Mailgun needs a signing key we don't read).
WEBHOOK_PROVIDERS = ("resend", "postmark", "amazon_ses", "sendgrid")
_webhook_patterns = [p for p in anymail_urls.urlpatterns if str(p.pattern).split("/")[0] in WEBHOOK_PROVIDERS]

urlpatterns = [
    path("", views.home, name="home"),
    # Operations: liveness, readiness (no login, no secrets) and Prometheus metrics (a token).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("v1/", exempt_from_login(api.urls)),
    path("api/v1/", exempt_from_login(api_alias_urls())),
    # Each part's pages, in the order an email flows through them.
    path("", include("outreach.people.urls")),
    path("", include("outreach.suppression.urls")),
    path("", include("outreach.mail.urls")),
    path("", include("outreach.integrations.urls")),
    # One email's story (draft, decisions, sending, engagement): review tells it, above mail.
    path("messages/<int:message_id>/", review_views.message_timeline, name="message_timeline"),
    path("review/", include("review.urls")),
    path("campaigns/", include("campaigns.urls")),
    # Provider webhooks (tracking and inbound), authenticated by anymail: ANYMAIL_WEBHOOK_SECRET
    # basic auth and/or Svix signatures for Resend. anymail's views are login_not_required.
    path("anymail/", include((_webhook_patterns, "anymail"))),
]
