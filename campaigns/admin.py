from django.contrib import admin

from .models import Campaign, Enrollment, SequenceStep

for model in (Campaign, Enrollment, SequenceStep):
    admin.site.register(model)
