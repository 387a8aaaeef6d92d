"""The simulator's mark in a database whose institution it wrote.

One row, written in the same transaction as the simulated history (and removed with it by --reset): the
mark travels with the rows it describes — a dump restored elsewhere keeps it, a restore of real books over
it removes it, a failed simulation leaves neither. Only a database that carries it, or holds no business
rows at all, may be replaced by `simulate --reset` or `finhouse demo --reset`; any other database is an
institution's books and is never emptied."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SimulatedInstitution(models.Model):
    simulated_at = models.DateTimeField(default=timezone.now)
    seed = models.BigIntegerField()
    customers = models.IntegerField()
    years = models.FloatField()
    until = models.DateField()

    class Meta:
        db_table = "simulated_institution"

    def __str__(self) -> str:
        return f"{self.customers} customers over {self.years:g} years up to {self.until} (seed {self.seed})"
