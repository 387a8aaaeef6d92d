"""`dbt.*` cross-database macros for sqlfluff's jinja templater (make lint-sql; transform/finhouse/.sqlfluff).

sqlfluff lints the models without dbt (no warehouse connection, no manifest), so each macro the models call
renders here as the SQL dbt-snowflake renders (the lint's dialect), enough for the parser to see the
statement's shape. Not used by dbt itself."""


def type_string():
    return "varchar"


def type_numeric():
    return "numeric(28, 6)"


def type_timestamp():
    return "timestamp_ntz"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"dateadd({datepart}, {interval}, {from_date_or_timestamp})"


def datediff(first_date, second_date, datepart):
    return f"datediff({datepart}, {first_date}, {second_date})"


def last_day(date, datepart):
    return f"last_day({date}, {datepart})"


def date_spine(datepart, start_date, end_date):
    return (f"select dateadd({datepart}, seq4(), {start_date}) as date_{datepart} "
            f"from table(generator(rowcount => 1000)) where date_{datepart} < {end_date}")
