"""When a queued message may go: open days and hours in the debtor's local time.

12 CFR 1006.6(b)(1)(i): before 8 a.m. or after 9 p.m. at the consumer's location is inconvenient,
and an e-mail counts when it is sent. The zone comes from the mailing ZIP (the ZIP table carries
one); the run queues nothing for a debtor whose zone is unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from addresses.ziptable import time_zone
from letters.intake.calendar import MailCalendar
from letters.intake.channels import EmailConfig

# Every zone a US address may be in, for a debtor whose zone is unknown (their hours overlap).
ALL_US_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
STEP = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """The days (local, in every zone) and hours a message may be sent."""

    zones: tuple[str, ...]
    first_day: date
    last_day: date
    send_from: time
    send_until: time
    closed: frozenset[date]

    def is_open(self, now: datetime) -> bool:
        """True when `now` (aware) is an open hour of an open day in every zone."""
        for zone in self.zones:
            local = now.astimezone(ZoneInfo(zone))
            day = local.date()
            if day < self.first_day or day > self.last_day or day in self.closed:
                return False
            if not self.send_from <= local.time().replace(tzinfo=None) < self.send_until:
                return False
        return True

    def expired(self, now: datetime) -> bool:
        """True once the last day has ended in every zone."""
        return all(now.astimezone(ZoneInfo(z)).date() > self.last_day for z in self.zones)

    def next_open(self, now: datetime) -> datetime | None:
        """The first open moment from `now` (to five minutes), or None when none is left."""
        moment = now.replace(second=0, microsecond=0)
        moment -= timedelta(minutes=moment.minute % 5)
        while not self.expired(moment):
            if moment >= now - STEP and self.is_open(moment):
                return max(moment, now)
            moment += STEP
        return None

    def describe(self) -> str:
        """`08:00-21:00 America/Chicago, 2026-11-20 to 2026-11-27`."""
        zones = self.zones[0] if len(self.zones) == 1 else "every US zone"
        return (
            f"{self.send_from:%H:%M}-{self.send_until:%H:%M} {zones}, "
            f"{self.first_day} to {self.last_day}"
        )

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(
            {
                "zones": list(self.zones),
                "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(),
                "send_from": self.send_from.strftime("%H:%M"),
                "send_until": self.send_until.strftime("%H:%M"),
                "closed": sorted(d.isoformat() for d in self.closed),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SendWindow:
        """Read the stored form back."""
        data = json.loads(text)
        return cls(
            zones=tuple(data["zones"]),
            first_day=date.fromisoformat(data["first_day"]),
            last_day=date.fromisoformat(data["last_day"]),
            send_from=time.fromisoformat(data["send_from"]),
            send_until=time.fromisoformat(data["send_until"]),
            closed=frozenset(date.fromisoformat(d) for d in data["closed"]),
        )


def zones_for(zip5: str) -> tuple[str, ...]:
    """The debtor's time zone from the mailing ZIP; every US zone when it is unknown (the run
    queues no message for such a debtor: `no_time_zone`; this is the careful fallback)."""
    zone = time_zone(zip5)
    return (zone,) if zone else ALL_US_ZONES


def window_for(
    zip5: str, first_day: date, config: EmailConfig, calendar: MailCalendar
) -> SendWindow:
    """A message's window: from `first_day` for `config.window_days` days, the calendar's closed
    days (Sundays, federal holidays, the policy's dates) left out."""
    last_day = first_day + timedelta(days=config.window_days - 1)
    days = (first_day + timedelta(days=n) for n in range(config.window_days))
    return SendWindow(
        zones=zones_for(zip5),
        first_day=first_day,
        last_day=last_day,
        send_from=config.send_from,
        send_until=config.send_until,
        closed=frozenset(d for d in days if not calendar.accepts_mail(d)),
    )
