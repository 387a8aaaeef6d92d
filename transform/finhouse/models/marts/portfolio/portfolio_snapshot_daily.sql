-- The portfolio day by day, per branch, loan officer and product: GLP, loans, PAR>1/30/90 principal,
-- overdue principal and installments missed, rebuilt as of each day (macro loans_aged). Incremental:
-- each run rebuilds the last day stored (activity may have arrived since) and appends the days after it up
-- to the as-of date; the first build (or --full-refresh) backfills var('snapshot_backfill_days') days.
-- The rebuilt days are replaced whole (unique_key snapshot_date: delete+insert deletes every row of those
-- days first), so a branch × officer × product whose last loan closed that day does not linger.
-- A snapshot keeps each day as it was recorded: a backdated operation (a repayment keyed in late) restates
-- the month-end models (PAR, balances) but not the days already taken; --full-refresh restates them all.
{{ incremental_by_key('snapshot_date') }}

with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

days as (
    {{ dbt.date_spine(
        datepart='day',
        start_date="cast('2000-01-01' as date)",
        end_date="cast('2101-01-01' as date)"
    ) }}
),

snapshot_days as (
    select cast(days.date_day as date) as as_of_date
    from days
    cross join as_of
    where cast(days.date_day as date) <= as_of.as_of_date
    {%- if is_incremental() %}
      and cast(days.date_day as date) >= (select max(snapshot_date) from {{ this }})
    {%- else %}
      and cast(days.date_day as date) > cast({{ dbt.dateadd('day', -var('snapshot_backfill_days'), 'as_of.as_of_date') }} as date)
    {%- endif %}
),

{{ loans_aged('snapshot_days') }}

select
    cast(as_of_date as {{ dbt.type_string() }}) || ':' || cast(branch_id as {{ dbt.type_string() }}) || ':'
        || cast(officer_id as {{ dbt.type_string() }}) || ':'
        || cast(loan_product_id as {{ dbt.type_string() }}) as snapshot_key,
    as_of_date as snapshot_date,
    branch_id,
    officer_id,
    loan_product_id as product_id,
    count(*) as active_loans,
    sum(principal_outstanding) as gross_loan_portfolio,
    sum(case when days_past_due > 1 then principal_outstanding else 0 end) as par_1_principal,
    sum(case when days_past_due > 30 then principal_outstanding else 0 end) as par_30_principal,
    sum(case when days_past_due > 90 then principal_outstanding else 0 end) as par_90_principal,
    sum(overdue_principal) as overdue_principal,
    sum(installments_missed) as installments_missed
from loans_aged
group by as_of_date, branch_id, officer_id, loan_product_id
