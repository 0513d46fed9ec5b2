"""WSGI entry point (gunicorn outreach.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")

application = get_wsgi_application()

# What startup loaded lives as long as the process: frozen out of the garbage collector's sight,
# so the collections that requests trigger stop rescanning it (the p95 in bench_review.py).
gc.freeze()
