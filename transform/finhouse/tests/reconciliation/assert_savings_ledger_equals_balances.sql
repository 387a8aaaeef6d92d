-- Every savings account's balance rebuilt from its ledger on the as-of date equals the account row's balance.
{{ config(enabled=var('as_of_date') is none) }}

with rebuilt as (
    select account_id, balance
    from {{ ref('int_savings_accounts_balanced_monthly') }}
    where period_end = (select as_of_date from {{ ref('int_calendar_as_of') }})
)

select accounts.account_id, accounts.balance as recorded, rebuilt.balance as rebuilt
from {{ ref('stg_oltp__savings_accounts') }} as accounts
left join rebuilt on rebuilt.account_id = accounts.account_id
where not accounts.is_deleted and {{ cents_differ('rebuilt.balance', 'accounts.balance') }}
