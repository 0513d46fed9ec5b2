from django.contrib import admin

from .models import Draft, DraftDecision, DraftEdit, DraftSkip, DraftVersion

for model in (Draft, DraftDecision, DraftEdit, DraftSkip, DraftVersion):
    admin.site.register(model)
