-- Every savings account's balance at every month-end, from the savings ledger (Σ of signed movements with
-- a value date up to the period end; reversals are movements too, so a reversed deposit nets to zero).
-- At the last period end it equals the account's balance column (a singular test checks it).
with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
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

daily as (
    select account_id, value_date, sum(signed_amount) as net_amount
    from movements
    group by account_id, value_date
),

account_periods as (
    select period_ends.month_start, period_ends.period_end, accounts.account_id, accounts.customer_id,
           accounts.branch_id, accounts.savings_product_id, accounts.opened_on, accounts.closed_on
    from accounts
    inner join period_ends on accounts.opened_on <= period_ends.period_end
)

select
    account_periods.month_start,
    account_periods.period_end,
    account_periods.account_id,
    account_periods.customer_id,
    account_periods.branch_id,
    account_periods.savings_product_id,
    (account_periods.closed_on is null or account_periods.closed_on > account_periods.period_end) as is_open,
    cast(coalesce(sum(daily.net_amount), 0) as {{ dbt.type_numeric() }}) as balance,
    coalesce(sum(case when daily.value_date >= account_periods.month_start then daily.net_amount end), 0) as net_movement
from account_periods
left join daily
    on daily.account_id = account_periods.account_id and daily.value_date <= account_periods.period_end
group by 1, 2, 3, 4, 5, 6, 7
