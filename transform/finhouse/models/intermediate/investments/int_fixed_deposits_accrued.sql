-- Every fixed deposit at every month-end: whether it is active then, its principal, earnings accrued and
-- paid by then, the accrued unpaid interest (GL 2110 by deposit), and what falls due at maturity.
with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

investments as (
    select * from {{ ref('stg_oltp__investments') }} where not is_deleted
),

earnings as (
    select * from {{ ref('stg_oltp__investment_earnings') }} where not is_deleted
),

deposit_periods as (
    select period_ends.month_start, period_ends.period_end, investments.*
    from investments
    inner join period_ends on investments.start_on <= period_ends.period_end
),

earned as (
    select
        deposit_periods.investment_id,
        deposit_periods.period_end,
        sum(case when earnings.accrued_on <= deposit_periods.period_end then earnings.amount else 0 end)
            as accrued_to_date,
        sum(case when earnings.paid_on <= deposit_periods.period_end then earnings.amount else 0 end) as paid_to_date,
        sum(case when earnings.accrued_on between deposit_periods.month_start and deposit_periods.period_end
                 then earnings.amount else 0 end) as accrued_in_period
    from deposit_periods
    inner join earnings on earnings.investment_id = deposit_periods.investment_id
    group by deposit_periods.investment_id, deposit_periods.period_end
)

select
    deposit_periods.month_start,
    deposit_periods.period_end,
    deposit_periods.investment_id,
    deposit_periods.customer_id,
    deposit_periods.branch_id,
    deposit_periods.investment_product_id,
    deposit_periods.principal,
    deposit_periods.annual_rate,
    deposit_periods.start_on,
    deposit_periods.maturity_on,
    (deposit_periods.closed_on is null or deposit_periods.closed_on > deposit_periods.period_end) as is_active,
    coalesce(earned.accrued_to_date, 0) as accrued_to_date,
    coalesce(earned.paid_to_date, 0) as paid_to_date,
    coalesce(earned.accrued_to_date, 0) - coalesce(earned.paid_to_date, 0) as accrued_unpaid,
    coalesce(earned.accrued_in_period, 0) as accrued_in_period,
    {{ dbt.datediff('deposit_periods.period_end', 'deposit_periods.maturity_on', 'day') }} as days_to_maturity
from deposit_periods
left join earned
    on earned.investment_id = deposit_periods.investment_id and earned.period_end = deposit_periods.period_end
