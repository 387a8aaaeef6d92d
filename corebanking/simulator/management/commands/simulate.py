"""`manage.py simulate`: write years of a believable institution's history in bulk (COPY), or keep writing
new activity through the services (--live). The logic is in simulator.bulk and simulator.live."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, handle_default_options
from django.db import connections
from django.utils import timezone


def _positive_int(name: str):
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {value!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"{name} must be at least 1, got {n}")
        return n

    return parse


def _positive_float(name: str, maximum: float | None = None):
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {value!r}") from None
        if not x > 0 or (maximum is not None and x > maximum):
            bound = f" and at most {maximum:g}" if maximum else ""
            raise argparse.ArgumentTypeError(f"{name} must be more than 0{bound}, got {value}")
        return x

    return parse


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--until must be a date YYYY-MM-DD, got {value!r}") from None


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    first = text.splitlines()[0].strip()
    name = exc.__class__.__name__
    if name == "OperationalError" or exc.__class__.__module__.startswith("psycopg"):
        return f"cannot use the database: {first}"
    return first


class Command(BaseCommand):
    help = (
        "Simulate a microfinance institution: years of history written in bulk (COPY), or with --live new "
        "activity through the services at a steady rate."
    )
    requires_system_checks: list = []
    requires_migrations_checks = False

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> None:  # one line, no usage block
            sys.stderr.write(f"simulate: {message} (see --help)\n")
            sys.exit(2)

        parser.error = error
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--customers",
            type=_positive_int("--customers"),
            default=2000,
            help="customers who join over the simulated years (default 2000)",
        )
        parser.add_argument(
            "--years",
            type=_positive_float("--years", 30),
            default=3.0,
            help="years of history before --until (default 3)",
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="random seed: same seed, same tables (default 42)"
        )
        parser.add_argument(
            "--until",
            type=_date,
            default=None,
            help="last simulated day, YYYY-MM-DD, not after today (default: the institution's today)",
        )
        parser.add_argument(
            "--branches",
            type=_positive_int("--branches"),
            default=None,
            help="number of branches (default: one per ~800 customers)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="replace the institution already in the database (truncates the business tables); only one "
            "the simulator wrote is replaced, never data it did not write",
        )
        parser.add_argument(
            "--workers",
            type=_positive_int("--workers"),
            default=None,
            help="simulation processes (default: 2, or 1 on a one-core machine)",
        )
        parser.add_argument(
            "--live", action="store_true", help="keep writing new activity through the services until stopped"
        )
        parser.add_argument(
            "--rate",
            type=_positive_float("--rate", 10_000),
            default=5.0,
            help="--live: operations per second (default 5)",
        )
        parser.add_argument(
            "--duration",
            type=_positive_float("--duration"),
            default=None,
            help="--live: stop after this many seconds (default: run until SIGINT/SIGTERM)",
        )
        parser.add_argument(
            "--operations",
            type=_positive_int("--operations"),
            default=None,
            help="--live: stop after this many operations (whichever of --duration and this comes first)",
        )

    def run_from_argv(self, argv) -> None:
        """As Django's, but every failure is one line on stderr and a non-zero exit (--traceback for more)."""
        self._called_from_command_line = True
        parser = self.create_parser(argv[0], argv[1])
        options = parser.parse_args(argv[2:])
        cmd_options = vars(options)
        args = cmd_options.pop("args", ())
        handle_default_options(options)
        try:
            self.execute(*args, **cmd_options)
        except KeyboardInterrupt:
            sys.stderr.write("simulate: interrupted; nothing of this run was committed\n")
            sys.exit(130)
        except Exception as exc:
            if options.traceback:
                raise
            sys.stderr.write(f"simulate: {one_line(exc)}\n")
            sys.exit(1)
        finally:
            connections.close_all()

    def handle(self, *args, **opts) -> None:
        if opts["live"]:
            from simulator.live import run_live

            run_live(
                rate=opts["rate"],
                duration=opts["duration"],
                operations=opts["operations"],
                seed=opts["seed"],
                out=self.stdout,
            )
            return
        from simulator import bulk
        from simulator.writer import RefusedError

        # The institution's today, not the server's: the history ends on a day the services would accept.
        today = timezone.localdate()
        until = opts["until"] or today
        if until > today:
            raise CommandError(
                f"--until {until} is after today {today} ({settings.TIME_ZONE}): the simulated history "
                "cannot reach into the future"
            )
        options = bulk.Options(
            customers=opts["customers"],
            years=opts["years"],
            seed=opts["seed"],
            until=until,
            branches=opts["branches"],
            reset=opts["reset"],
            workers=opts["workers"] or bulk.default_workers(),
        )
        try:
            summary = self._run_with_progress(bulk, options)
        except RefusedError as exc:
            raise CommandError(str(exc)) from exc
        self._print_summary(summary, options)

    def _run_with_progress(self, bulk, options):
        if not sys.stdout.isatty():
            return bulk.run(options)
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("simulating customers", total=options.customers)

            def progress(done: int, total: int, phase: str) -> None:
                description = "simulating customers" if phase == "customers" else "building indexes, checking"
                bar.update(task, completed=done, description=description)

            return bulk.run(options, progress)

    def _print_summary(self, s, options) -> None:
        out = self.stdout
        out.write(
            f"Simulated {options.customers} customers over {options.years:g} years up to {options.until} "
            f"(seed {options.seed}) in {s.seconds:.1f} s"
        )
        width = max(len(t) for t in s.rows)
        for table, n in s.rows.items():
            out.write(f"  {table:<{width}}  {n:>12,}")
        total = sum(s.rows.values())
        out.write(f"  {'total rows':<{width}}  {total:>12,}  ({total / s.seconds:,.0f} rows/s)")
        out.write(
            f"loans: {s.loans:,} applications, {s.disbursed_loans:,} disbursed, "
            f"{s.restructured_loans:,} restructured, {s.written_off_loans:,} written off"
        )
        out.write(
            f"gross loan portfolio {s.glp}; PAR30 {s.par30:.2%}; write-off ratio (last 12 months) "
            f"{s.write_off_ratio:.2%}; journal entries {s.journal_entries:,}"
        )
