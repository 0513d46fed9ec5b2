from django.apps import AppConfig
from django.db.models.signals import post_migrate

SWEEP_SCHEDULE_NAME = "review: return stale drafts to the queue"


def ensure_schedules(**kwargs) -> None:
    """The drafting sweep runs every minute. Created by a post_migrate hook (not a data migration)
    so it is (re)created idempotently after every migrate, also on databases flushed by tests."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE_NAME,
        defaults={"func": "review.tasks.draft_sweep_stale", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Review"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="review_schedules")
