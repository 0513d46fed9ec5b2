"""The landing page: project wiring, like the URLs; every other page lives in its part."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "outreach/home.html")
