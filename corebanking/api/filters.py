"""Query-parameter filters that refuse, with 400, values Python accepts but PostgreSQL cannot compare
(found by the API fuzz run, tests/test_api_fuzz.py): without them such a value reaches the database and
the request ends in a 500."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import DateRangeWidget


class AmountFilter(django_filters.NumberFilter):
    """A bound on an amount, with at most the digits of the amounts themselves (core.models.MoneyField:
    18, 2 after the point). A bound of 1E-100000 would otherwise overflow PostgreSQL's numeric format."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC. Python accepts offsets up to ±23:59, PostgreSQL only up to
    ±15:59 ('time zone displacement out of range'): the same instant in UTC is always accepted. An
    instant that has no UTC equivalent (year 1 at +05:00, year 9999 at -05:00) is invalid input."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("date-time out of range", code="invalid") from None


class UtcIsoDateTimeRangeField(RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((UtcIsoDateTimeField(), UtcIsoDateTimeField()), *args, **kwargs)


class DateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """`<name>_after` / `<name>_before` in ISO 8601, any offset PostgreSQL cannot take moved to UTC."""

    field_class = UtcIsoDateTimeRangeField
