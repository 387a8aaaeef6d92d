"""The business date and moment of an operation: services take an optional `on` date (default today, in
the institution's time zone) and stamp rows with the moment it stands for."""

import datetime as dt

from django.utils import timezone


def business_date(on: dt.date | None = None) -> dt.date:
    """`on`, or today in the institution's time zone."""
    return on if on is not None else timezone.localdate()


def business_moment(on: dt.date | None = None) -> dt.datetime:
    """The timestamp of an operation on date `on`: now when `on` is today (or not given), else noon of
    that day, so that back-dated operations (history, corrections) sort on their own day."""
    if on is None or on == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(dt.datetime.combine(on, dt.time(12, 0)))
