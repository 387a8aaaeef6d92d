"""The business date and moment of an operation: services take an optional `on` date (default today, in
the institution's time zone, settings.TIME_ZONE from FINHOUSE_TIME_ZONE) and stamp rows with the moment it
stands for.

`business_date` is the one place an operation's date is resolved, so it is also where the date is
bounded: not after the institution's today (a future-dated operation would, e.g., redeem a fixed deposit
"at maturity" before it matured, or move every report's as-of date into the future) and not within a
closed accounting period (ledger.PeriodClose). Back-dated operations in open periods stay allowed: they
are how history is written and corrections are made. Reads (a loan's arrears as of a date) use
`as_of_date`, which bounds nothing."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from core.exceptions import BusinessError


def institution_today() -> dt.date:
    """Today in the institution's time zone (not the server's, not UTC)."""
    return timezone.localdate()


def closed_through() -> dt.date | None:
    """The last day of the closed accounting periods, or None when the books were never closed."""
    # Imported here: core is below the apps, and the period model belongs to the ledger.
    from ledger.models import PeriodClose

    return PeriodClose.objects.order_by("-closed_through").values_list("closed_through", flat=True).first()


def require_open_date(on: dt.date) -> dt.date:
    """Refuse (BusinessError) a business date after the institution's today or within a closed
    accounting period; return it otherwise."""
    today = institution_today()
    if on > today:
        raise BusinessError(
            f"the business date {on} is after today {today} ({settings.TIME_ZONE}): operations cannot be "
            "dated in the future; leave the date out for today, or give today's or an earlier date",
            code="future_date",
        )
    closed = closed_through()
    if closed is not None and on <= closed:
        raise BusinessError(
            f"the business date {on} is in a closed accounting period (the books are closed through "
            f"{closed}): date the operation after {closed}, or post a correction in the open period",
            code="period_closed",
        )
    return on


def business_date(on: dt.date | None = None) -> dt.date:
    """The date of an operation: `on`, or today in the institution's time zone; refused (BusinessError)
    when after today or within a closed accounting period."""
    return require_open_date(on if on is not None else institution_today())


def business_moment(on: dt.date | None = None) -> dt.datetime:
    """The timestamp of an operation on date `on` (bounded as business_date bounds it): now when `on` is
    today (or not given), else noon of that day in the institution's time zone, so that back-dated
    operations (history, corrections) sort on their own day."""
    on = business_date(on)
    if on == institution_today():
        return timezone.now()
    return timezone.make_aware(dt.datetime.combine(on, dt.time(12, 0)))


def as_of_date(as_of: dt.date | None = None) -> dt.date:
    """The date a read is made as of: `as_of`, or today in the institution's time zone. Unbounded: one
    may ask what a loan will owe next month, or what it owed in a closed period."""
    return as_of if as_of is not None else institution_today()
