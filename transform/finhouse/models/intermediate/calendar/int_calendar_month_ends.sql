-- One row per month from the institution's first journal entry to the as-of date; period_end is the
-- month's last day, or the as-of date for the month in progress (marts are computed as of that date).
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

first_day as (
    select min(posted_on) as first_date from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

months as (
    {{ dbt.date_spine(
        datepart='month',
        start_date="cast('2000-01-01' as date)",
        end_date="cast('2100-01-01' as date)"
    ) }}
),

bounded as (
    select cast(months.date_month as date) as month_start
    from months
    cross join as_of
    cross join first_day
    where cast(months.date_month as date) <= as_of.as_of_date
      and cast(months.date_month as date) >= {{ dbt.date_trunc('month', 'first_day.first_date') }}
),

spine as (
    select
        bounded.month_start,
        least(
            cast({{ dbt.last_day('bounded.month_start', 'month') }} as date),
            as_of.as_of_date
        ) as period_end,
        cast({{ dbt.dateadd('day', -1, 'bounded.month_start') }} as date) as previous_period_end,
        cast({{ dbt.last_day('bounded.month_start', 'month') }} as date) as month_end,
        {%- set month_end = dbt.last_day('bounded.month_start', 'month') %}
        {{ dbt.datediff('bounded.month_start', 'least(cast(' ~ month_end ~ ' as date), as_of.as_of_date)', 'day') }}
            + 1 as days_in_period,
        {{ dbt.datediff('bounded.month_start', month_end, 'day') }} + 1 as days_in_month
    from bounded
    cross join as_of
)

select
    spine.*,
    -- the share of a month the period covers: flows are annualised × 12 / months_in_period (docs/kpis.md)
    cast(spine.days_in_period as {{ dbt.type_numeric() }}) / spine.days_in_month as months_in_period
from spine
