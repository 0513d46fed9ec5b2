"""Project wiring: every app's URLs; nothing imports this module."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns.api import router as campaigns_api
from outreach import views
from outreach.api import router as outreach_api
from outreach.api_root import api, exempt_from_login
from review.api import router as review_api

# REST API: one NinjaAPI under /api/v1/; every app contributes its router.
api.add_router("", outreach_api)
api.add_router("", review_api)
api.add_router("", campaigns_api)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", exempt_from_login(api.urls)),
    path("", include("outreach.app_urls")),
    path("review/", include("review.urls")),
    path("campaigns/", include("campaigns.urls")),
    # Provider webhooks (tracking and inbound), authenticated by anymail: ANYMAIL_WEBHOOK_SECRET
    # basic auth and/or Svix signatures for Resend. anymail's views are login_not_required.
    path("anymail/", include("anymail.urls")),
]
