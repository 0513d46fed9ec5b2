"""Number formats of the edit analytics page: rates as percentages, distances as fractions, "–" for none."""

from django import template

from review.charts import fine_percent as _fine_percent
from review.charts import fraction as _fraction
from review.charts import percent as _percent

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    return _percent(value)


@register.filter
def fraction(value: float | None) -> str:
    return _fraction(value)


@register.filter
def distance(similarity: float | None) -> str:
    """A normalized similarity shown as edit distance (1 - similarity)."""
    return _fraction(None if similarity is None else 1.0 - similarity)


@register.filter
def fine_percent(value: float | None) -> str:
    """Rates near the complaint limit (0.1 %) keep their decimals."""
    return _fine_percent(value)
