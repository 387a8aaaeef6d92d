-- One row per movement on a savings account, signed by its type's direction. Reversed movements and the
-- reversals themselves are flagged: KPIs exclude both (reversed transactions never count), balances keep
-- them (they net to zero).
with transactions as (
    select * from {{ ref('stg_oltp__savings_transactions') }} where not is_deleted
),

types as (
    select * from {{ ref('stg_oltp__transaction_types') }} where not is_deleted
),

accounts as (
    select * from {{ ref('stg_oltp__savings_accounts') }} where not is_deleted
),

reversed as (
    select distinct reversal_of_id as savings_transaction_id
    from transactions
    where reversal_of_id is not null
)

select
    transactions.savings_transaction_id,
    transactions.account_id,
    accounts.customer_id,
    accounts.branch_id,
    accounts.savings_product_id,
    transactions.value_date,
    cast({{ dbt.date_trunc('month', 'transactions.value_date') }} as date) as value_month,
    types.transaction_type_code,
    types.direction,
    transactions.amount,
    case when types.direction = 'credit' then transactions.amount else -transactions.amount end as signed_amount,
    transactions.balance_after,
    transactions.channel,
    transactions.transfer_id,
    transactions.reversal_of_id,
    transactions.reversal_of_id is not null as is_reversal,
    reversed.savings_transaction_id is not null as is_reversed
from transactions
inner join types on types.transaction_type_id = transactions.transaction_type_id
inner join accounts on accounts.account_id = transactions.account_id
left join reversed on reversed.savings_transaction_id = transactions.savings_transaction_id
