"""When is the person back? The return date in a common out-of-office text, in English, German,
French or Spanish: "back on 14 December", "returning Monday 3 Nov", "zurück am 12.12.", "de retour
le 14 décembre", "de vuelta el 3 de noviembre", "out of the office until 12/12". Pure; None when no
date is found. "Until X" means back the day after X."""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {
    **dict.fromkeys(("january", "jan", "januar", "janvier", "janv", "enero", "ene"), 1),
    **dict.fromkeys(("february", "feb", "februar", "février", "fevrier", "févr", "febrero"), 2),
    **dict.fromkeys(("march", "mar", "märz", "maerz", "mars", "marzo"), 3),
    **dict.fromkeys(("april", "apr", "avril", "avr", "abril", "abr"), 4),
    **dict.fromkeys(("may", "mai", "mayo"), 5),
    **dict.fromkeys(("june", "jun", "juni", "juin", "junio"), 6),
    **dict.fromkeys(("july", "jul", "juli", "juillet", "juil", "julio"), 7),
    **dict.fromkeys(("august", "aug", "août", "aout", "agosto", "ago"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre", "septiembre"), 9),
    **dict.fromkeys(("october", "oct", "oktober", "okt", "octobre", "octubre"), 10),
    **dict.fromkeys(("november", "nov", "novembre", "noviembre"), 11),
    **dict.fromkeys(("december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic"), 12),
}
_MONTH = "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True))
_WEEKDAY = (
    r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?|montag|dienstag|mittwoch|donnerstag|"
    r"freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|"
    r"miercoles|jueves|viernes|sábado|sabado|domingo)\.?,?"
)
# A date: "14 December", "14. Dezember", "3 de noviembre", "December 14", "12.12.", "12/12/2026".
_DATE = (
    rf"(?:{_WEEKDAY}\s+)?(?:(?:the\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s+(?:de\s+)?(?P<m1>{_MONTH})\.?"
    rf"|(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?"
    r"|(?P<d3>\d{1,2})[./](?P<m3>\d{1,2})(?:[./](?P<y3>\d{2,4}))?\.?)"
    r"(?:,?\s+(?P<y>\d{4}))?"
)
_BACK = (
    r"back\s+(?:in\s+the\s+office\s+)?(?:on\s+)?|return(?:ing)?\s+(?:to\s+the\s+office\s+)?(?:on\s+)?|"
    r"zurück\s+(?:am|ab)\s+|wieder\s+(?:im\s+büro\s+)?(?:am|ab)\s+|ab\s+(?:dem\s+)?|"
    r"de\s+retour\s+(?:le\s+)?|retour\s+(?:le\s+)?|je\s+serai\s+de\s+retour\s+(?:le\s+)?|"
    r"de\s+vuelta\s+(?:el\s+)?|regres(?:o|aré|are)\s+(?:el\s+)?|vuelvo\s+(?:el\s+)?"
)
_UNTIL = (
    r"until\s+|till\s+|through\s+|bis\s+(?:zum\s+|einschließlich\s+)?|jusqu'(?:au|à)\s+(?:le\s+)?|hasta\s+(?:el\s+)?"
)
_PATTERN = re.compile(rf"(?:(?P<back>{_BACK})|(?P<until>{_UNTIL})){_DATE}", re.IGNORECASE)


def ooo_return_date(text: str, *, today: date) -> date | None:
    """The first return date in `text` on or after `today` (a date without a year is its next
    occurrence), or None."""
    normalized = " ".join(text.replace("’", "'").split())
    for found in _PATTERN.finditer(normalized):
        day, month, year = _parts(found)
        if day is None or month is None:
            continue
        when = _resolve(day, month, year, today)
        if when is None:
            continue
        if found.group("until"):
            when += timedelta(days=1)
        if when >= today:
            return when
    return None


def _parts(found: re.Match[str]) -> tuple[int | None, int | None, int | None]:
    if found.group("d1"):
        day, month = int(found.group("d1")), MONTHS.get(found.group("m1").lower())
    elif found.group("d2"):
        day, month = int(found.group("d2")), MONTHS.get(found.group("m2").lower())
    else:
        day, month = int(found.group("d3")), int(found.group("m3"))
    raw_year = found.group("y3") or found.group("y")
    year = int(raw_year) if raw_year else None
    if year is not None and year < 100:
        year += 2000
    return day, month, year


def _resolve(day: int, month: int, year: int | None, today: date) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None
