-- Every savings account's balance at every month-end, from the savings ledger (Σ of signed movements with
-- a value date up to the period end; reversals are movements too, so a reversed deposit nets to zero).
-- At the last period end it equals the account's balance column (a singular test checks it).
-- Computed as each month's net movement per account, summed over the months so far (a running total):
-- linear in accounts × months, where joining every movement to every later period end was quadratic.
--
-- Incremental by period (macro incremental_by_period): a run recomputes the months from the earliest value
-- date among the movements loaded since its last run (a backdated deposit or a reversal moves that start
-- back), and from the month in progress when the as-of date moved. Movements dated before the first month
-- recomputed count in it, as those before the first month of the calendar do in a full build, so its
-- balance is exact without reading the stored months. An account whose customer, branch, product or
-- opening changed is rewritten from its opening; one whose closing moved to another month (closed since,
-- reopened), from the earlier month: the stored rows tell the month it had closed in (the first not open).
{{ incremental_by_period('month_start') }}

{%- set rebuild_from = none %}
{%- if is_incremental() %}
{%- set since = incremental_watermark('sources_load_id') %}
{%- set changed_dates %}
    with accounts_since as (
        select account_id, customer_id, branch_id, savings_product_id, opened_on, closed_on, is_deleted
        from {{ ref('stg_oltp__savings_accounts') }}
        where load_id > {{ since }}
    ),

    stored as (
        -- an account's rows: one per month-end from its opening, all with the same attributes; the first
        -- one not open is the month it closed in
        select account_id, max(customer_id) as customer_id, max(branch_id) as branch_id,
               max(savings_product_id) as savings_product_id, max(opened_on) as opened_on,
               min(case when not is_open then month_start end) as closed_in_month
        from {{ this }}
        where account_id in (select account_id from accounts_since)
        group by account_id
    ),

    compared as (
        select
            accounts_since.*,
            stored.account_id is null as is_new,
            stored.opened_on as stored_opened_on,
            stored.closed_in_month,
            {{ moved_since_stored('accounts_since', 'stored', 'account_id',
                                  ['customer_id', 'branch_id', 'savings_product_id', 'opened_on']) }} as is_moved
        from accounts_since
        left join stored on stored.account_id = accounts_since.account_id
    )

    -- a new account from its opening; a moved (or deleted) one from the earlier opening date
    select opened_on as business_date from compared where (is_new and not is_deleted) or is_moved
    union all select stored_opened_on from compared where is_moved
    -- an account whose closing moved to another month (closed since, reopened, backdated): the earlier one
    union all select closed_on from compared
        where not is_new and cast({{ dbt.date_trunc('month', 'closed_on') }} as date) is distinct from closed_in_month
    union all select closed_in_month from compared
        where not is_new and cast({{ dbt.date_trunc('month', 'closed_on') }} as date) is distinct from closed_in_month
    -- the movements loaded since, at their value dates, and journal entries (the calendar's first month
    -- and as-of date come from them). Transaction types are reference data, reloaded whole by every load:
    -- their direction does not change once used (the OLTP's balances were posted with it).
    union all select value_date from {{ ref('stg_oltp__savings_transactions') }} where load_id > {{ since }}
    union all select posted_on from {{ ref('stg_oltp__journal_entries') }} where load_id > {{ since }}
    -- the as-of date moved: the month in progress (and the one it was in) changed its period end
    union all {{ as_of_move_date('period_end') }}
{%- endset %}
{%- set rebuild_from = first_period_to_rebuild(changed_dates) %}
{%- endif %}

with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
    where {{ from_period('month_start', rebuild_from) }}
),

sources_loaded as (
    -- the newest load among the inputs: the next run's watermark
    select {{ newest_load([
        (ref('stg_oltp__savings_accounts'), 'load_id'),
        (ref('stg_oltp__savings_transactions'), 'load_id'),
        (ref('stg_oltp__journal_entries'), 'load_id'),
    ]) }} as sources_load_id
),

first_month as (
    -- the first period written; the calendar's first (the same in a full build)
    select min(month_start) as month_start,
           (select min(month_start) from {{ ref('int_calendar_month_ends') }}) as calendar_start
    from period_ends
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
    -- before the first period count in the first; after the as-of date, in none). In the month's net
    -- movement the ones dated before it count only in the calendar's first month: before the first month
    -- an incremental run writes, they are the balance brought forward.
    select
        movements.account_id,
        period_ends.month_start,
        sum(movements.signed_amount) as net_amount,
        sum(case when movements.value_date >= period_ends.month_start
                   or period_ends.month_start = first_month.calendar_start
                 then movements.signed_amount else 0 end) as net_movement
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
    coalesce(monthly.net_movement, 0) as net_movement,
    account_periods.opened_on,
    sources_loaded.sources_load_id,
    {{ transformed_at() }} as transformed_at
from account_periods
left join monthly
    on monthly.account_id = account_periods.account_id and monthly.month_start = account_periods.month_start
left join carried_in on carried_in.account_id = account_periods.account_id
cross join sources_loaded
