"""Days as small integers: the simulator computes with day indexes (0 = its calendar's first day) and
timestamps as day × 1440 + minute, and formats them through lookup tables only when writing."""

from __future__ import annotations

import calendar as _cal
import datetime as dt


class Calendar:
    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first = first
        self.base = first.toordinal()
        n = last.toordinal() - self.base + 1
        self.day_str = [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]
        self.n = n
        # a second per minute that looks arbitrary but is fixed: timestamps are not all on :00. No offset:
        # a minute is the institution's wall-clock time, read in its time zone by the loading session
        # (bulk.run sets it), so an operation on day d is stamped on day d where the institution is.
        self.minute_str = [f"{m // 60:02d}:{m % 60:02d}:{(m * 37) % 60:02d}" for m in range(1440)]
        # month-ends, and the month index of every day
        self.month_ends: list[int] = []
        self.month_of = [0] * n
        self.month_start: list[int] = []
        d = first.replace(day=1)
        idx = 0
        while d <= last:
            end = d.replace(day=_cal.monthrange(d.year, d.month)[1])
            s, e = max(0, self.day(d)), min(n - 1, self.day(end))
            for i in range(s, e + 1):
                self.month_of[i] = idx
            self.month_start.append(self.day(d))
            self.month_ends.append(self.day(end))
            idx += 1
            d = end + dt.timedelta(days=1)
        self.month_num = [(first + dt.timedelta(days=i)).month for i in range(n)]
        self.weekday = [(first + dt.timedelta(days=i)).weekday() for i in range(n)]

    def day(self, date: dt.date) -> int:
        return date.toordinal() - self.base

    def date(self, day: int) -> dt.date:
        return dt.date.fromordinal(day + self.base)

    def add_months(self, day: int, months: int) -> int:
        d = self.date(day)
        month_index = d.month - 1 + months
        year, month = d.year + month_index // 12, month_index % 12 + 1
        return self.day(dt.date(year, month, min(d.day, _cal.monthrange(year, month)[1])))
