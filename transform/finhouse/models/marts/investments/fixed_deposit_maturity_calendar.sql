-- The liquidity plan: principal and interest of the fixed deposits active on the as-of date falling due
-- per week and per month ahead (`bucket_type`). Interest due at maturity = accrued unpaid interest + the
-- simple interest still to accrue (principal × rate × days to maturity / 365); products that pay interest
-- monthly or quarterly pay part of it earlier, so this is the most the maturity date can ask for.
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

deposits as (
    select deposits.*
    from {{ ref('int_fixed_deposits_accrued') }} as deposits
    cross join as_of
    where deposits.period_end = as_of.as_of_date and deposits.is_active
),

due as (
    select
        investment_id,
        maturity_on,
        principal,
        -- money stays exact: the interest still to accrue is rounded to the cent (a division yields a float)
        accrued_unpaid + cast(round(principal * annual_rate * greatest(days_to_maturity, 0) / 365.0, 2)
                              as {{ dbt.type_numeric() }}) as interest_due
    from deposits
),

bucketed as (
    select 'week' as bucket_type, cast({{ dbt.date_trunc('week', 'maturity_on') }} as date) as bucket_start, due.*
    from due
    union all
    select 'month', cast({{ dbt.date_trunc('month', 'maturity_on') }} as date), due.*
    from due
)

select
    bucketed.bucket_type || ':' || cast(bucketed.bucket_start as {{ dbt.type_string() }}) as maturity_key,
    bucketed.bucket_type,
    bucketed.bucket_start,
    max(as_of.as_of_date) as as_of_date,
    count(*) as deposits_maturing,
    sum(bucketed.principal) as principal_due,
    sum(bucketed.interest_due) as interest_due,
    sum(bucketed.principal + bucketed.interest_due) as total_due
from bucketed
cross join as_of
group by bucketed.bucket_type, bucketed.bucket_start
