"""The mailing calendar: when the post office takes mail, and the Regulation F validation period.

Holidays are the legal public holidays of 5 U.S.C. 6103(a) with their observed days, from the
`holidays` package's US federal calendar; an operator can add closed dates in the policy.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RECEIPT_BUSINESS_DAYS = 5  # §1006.34(b)(5): assumed receipt, excluding weekends and holidays
VALIDATION_DAYS = 30


@functools.cache
def _federal(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year).keys())


def federal_holiday(day: date) -> bool:
    """True on a legal public holiday (5 U.S.C. 6103(a)) or its observed day."""
    return day in _federal(day.year)


@dataclass(frozen=True, slots=True)
class MailCalendar:
    """Which days the post office accepts mail."""

    closed_weekdays: frozenset[int] = frozenset({6})  # Sunday
    extra_closed: frozenset[date] = field(default_factory=frozenset)

    def accepts_mail(self, day: date) -> bool:
        """True when mail can be handed to USPS on this day."""
        return (
            day.weekday() not in self.closed_weekdays
            and not federal_holiday(day)
            and day not in self.extra_closed
        )

    def mail_date(self, as_of: date) -> date:
        """The first day after `as_of` on which the post office accepts mail."""
        day = as_of + timedelta(days=1)
        while not self.accepts_mail(day):
            day += timedelta(days=1)
        return day


def add_business_days(start: date, count: int) -> date:
    """`count` days after `start`, not counting Saturdays, Sundays and federal holidays."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and not federal_holiday(day):
            count -= 1
    return day


def validation_end_date(mail_date: date, extra_days: int = 0) -> date:
    """§1006.34(b)(5): assumed receipt (mail date + 5 business days) + 30 days (+ any extra)."""
    return add_business_days(mail_date, RECEIPT_BUSINESS_DAYS) + timedelta(
        days=VALIDATION_DAYS + extra_days
    )


def parse_closed_weekdays(names: Iterable[str]) -> frozenset[int]:
    """Weekday names (`"sunday"`) to numbers; raise ValueError on an unknown name."""
    days = set()
    for name in names:
        key = name.strip().lower()
        if key not in WEEKDAY_NAMES:
            raise ValueError(f"not a weekday: {name!r}")
        days.add(WEEKDAY_NAMES.index(key))
    return frozenset(days)
