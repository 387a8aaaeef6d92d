-- audit_activity_daily: the audit trail summarised per local day, user and source (api, admin, simulator,
-- command, shell): how many changes each user made, how many of them moved money, overrode a control, or
-- happened after hours. The definitions are in _audit__models.yml.
{%- set money_movements = ['ledger.savingstransaction', 'ledger.transfer', 'ledger.journalentry',
                           'loans.repayment', 'loans.writeoff', 'loans.recovery', 'payments.payment',
                           'investments.investment', 'investments.investmentearning'] %}
{#- posted money records: corrected by a reversing entry, never edited; the services never update them -#}
{%- set posted_records = ['ledger.savingstransaction', 'ledger.transfer', 'ledger.journalentry',
                          'loans.repayment', 'loans.writeoff', 'loans.recovery', 'investments.investmentearning'] %}
{%- set start_h, start_m = var('business_hours_start').split(':') %}
{%- set end_h, end_m = var('business_hours_end').split(':') %}

with entries as (
    select * from {{ ref('stg_oltp__audit_log') }}
),

staff_branches as (
    select user_id, branch_id from {{ ref('stg_oltp__staff') }} where not is_deleted
),

-- the branch of what an entry changed, for the objects that belong to one
object_branches as (
    select 'customers.customer' as object_model, customer_id as object_id, branch_id
    from {{ ref('stg_oltp__customers') }}
    union all
    select 'loans.loan', loan_id, branch_id from {{ ref('stg_oltp__loans') }}
    union all
    select 'savings.savingsaccount', account_id, branch_id from {{ ref('stg_oltp__savings_accounts') }}
    union all
    select 'payments.payment', payment_id, branch_id from {{ ref('stg_oltp__payments') }}
    union all
    select 'loans.repayment', repayments.repayment_id, loans.branch_id
    from {{ ref('stg_oltp__loan_repayments') }} as repayments
    inner join {{ ref('stg_oltp__loans') }} as loans on repayments.loan_id = loans.loan_id
    union all
    select 'ledger.savingstransaction', transactions.savings_transaction_id, accounts.branch_id
    from {{ ref('stg_oltp__savings_transactions') }} as transactions
    inner join {{ ref('stg_oltp__savings_accounts') }} as accounts on transactions.account_id = accounts.account_id
),

classified as (
    select
        entries.audit_entry_id,
        cast(entries.logged_at_local as date) as activity_date,
        entries.logged_at_local,
        entries.source,
        entries.actor_username,
        entries.actor_id,
        entries.action,
        -- the lists render on one line each, longer than the line limit
        (entries.action = 'create' and entries.object_model in ('{{ money_movements | join("', '") }}'))  -- noqa: LT05
            as is_money_movement,
        (entries.action in ('update', 'delete')
            and entries.object_model in ('{{ posted_records | join("', '") }}'))  -- noqa: LT05
            as is_posted_record_change,
        coalesce(staff_branches.branch_id <> object_branches.branch_id, false) as is_out_of_branch,
        (
            {{ iso_day_of_week('entries.logged_at_local') }} not in ({{ var('business_days') | join(', ') }})
            or extract(hour from entries.logged_at_local) * 60 + extract(minute from entries.logged_at_local)
                < {{ start_h | int * 60 + start_m | int }}
            or extract(hour from entries.logged_at_local) * 60 + extract(minute from entries.logged_at_local)
                >= {{ end_h | int * 60 + end_m | int }}
        ) as is_after_hours
    from entries
    left join staff_branches on entries.actor_id = staff_branches.user_id
    left join object_branches
        on entries.object_model = object_branches.object_model and entries.object_id = object_branches.object_id
),

daily as (
    select
        activity_date,
        source,
        actor_username,
        max(actor_id) as actor_id,
        count(*) as change_count,
        sum(case when action = 'create' then 1 else 0 end) as creates,
        sum(case when action = 'update' then 1 else 0 end) as updates,
        sum(case when action = 'delete' then 1 else 0 end) as deletes,
        sum(case when is_money_movement then 1 else 0 end) as money_movements,
        sum(case when is_posted_record_change or is_out_of_branch then 1 else 0 end) as overrides,
        sum(case when is_posted_record_change then 1 else 0 end) as posted_record_changes,
        sum(case when is_out_of_branch then 1 else 0 end) as out_of_branch_changes,
        sum(case when is_after_hours then 1 else 0 end) as after_hours_changes,
        min(logged_at_local) as first_change_at_local,
        max(logged_at_local) as last_change_at_local
    from classified
    group by activity_date, source, actor_username
)

select
    cast(activity_date as {{ dbt.type_string() }}) || ':' || source || ':' || actor_username as audit_activity_key,
    daily.*,
    {{ transformed_at() }} as transformed_at
from daily
