-- Every savings account's balance at every month-end, from the savings ledger (Σ of signed movements with
-- a value date up to the period end; reversals are movements too, so a reversed deposit nets to zero).
-- At the last period end it equals the account's balance column (a singular test checks it).
-- Computed as each month's net movement per account, summed over the months so far (a running total):
-- linear in accounts × months, where joining every movement to every later period end was quadratic.
with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

first_month as (
    select min(month_start) as month_start from period_ends
),

accounts as (
    select * from {{ ref('stg_oltp__savings_accounts') }} where not is_deleted
),

movements as (
    select
        transactions.account_id,
        transactions.value_date,
        case when types.direction = 'credit' then transactions.amount else -transactions.amount end as signed_amount
    from {{ ref('stg_oltp__savings_transactions') }} as transactions
    inner join {{ ref('stg_oltp__transaction_types') }} as types
        on types.transaction_type_id = transactions.transaction_type_id
    where not transactions.is_deleted
),

monthly as (
    -- A movement counts in the period whose end it falls on or before: its own month (movements dated
    -- before the first period count in the first; after the as-of date, in none).
    select
        movements.account_id,
        period_ends.month_start,
        sum(movements.signed_amount) as net_amount
    from movements
    cross join first_month
    inner join period_ends
        on period_ends.month_start = greatest(
            cast({{ dbt.date_trunc('month', 'movements.value_date') }} as date), first_month.month_start)
       and movements.value_date <= period_ends.period_end
    group by movements.account_id, period_ends.month_start
),

account_periods as (
    select period_ends.month_start, period_ends.period_end, accounts.account_id, accounts.customer_id,
           accounts.branch_id, accounts.savings_product_id, accounts.opened_on, accounts.closed_on
    from accounts
    inner join period_ends on accounts.opened_on <= period_ends.period_end
),

-- Movements in months before an account's opening period (none in practice) still count in its balance.
carried_in as (
    select monthly.account_id, sum(monthly.net_amount) as net_amount
    from monthly
    inner join accounts on accounts.account_id = monthly.account_id
    inner join period_ends on period_ends.month_start = monthly.month_start
    where period_ends.period_end < accounts.opened_on
    group by monthly.account_id
)

select
    account_periods.month_start,
    account_periods.period_end,
    account_periods.account_id,
    account_periods.customer_id,
    account_periods.branch_id,
    account_periods.savings_product_id,
    (account_periods.closed_on is null or account_periods.closed_on > account_periods.period_end) as is_open,
    cast(coalesce(carried_in.net_amount, 0) + sum(coalesce(monthly.net_amount, 0)) over (
        partition by account_periods.account_id order by account_periods.month_start
        rows between unbounded preceding and current row
    ) as {{ dbt.type_numeric() }}) as balance,
    coalesce(monthly.net_amount, 0) as net_movement
from account_periods
left join monthly
    on monthly.account_id = account_periods.account_id and monthly.month_start = account_periods.month_start
left join carried_in on carried_in.account_id = account_periods.account_id
