-- One row per movement on a savings account, signed by its type's direction. Reversed movements and the
-- reversals themselves are flagged: KPIs exclude both (reversed transactions never count), balances keep
-- them (they net to zero).
-- Incremental: a run rewrites the movements loaded since the last run, those a new movement reverses, and
-- those whose account (customer, branch, product) or type (code, direction) changed.
{{ incremental_by_key('savings_transaction_id') }}

with transactions as {{ inlined() }} (
    select * from {{ ref('stg_oltp__savings_transactions') }} where not is_deleted
),

types as {{ inlined() }} (
    select * from {{ ref('stg_oltp__transaction_types') }} where not is_deleted
),

accounts as {{ inlined() }} (
    select * from {{ ref('stg_oltp__savings_accounts') }} where not is_deleted
),

reversed as (
    select distinct reversal_of_id as savings_transaction_id
    from transactions
    where reversal_of_id is not null
),

{%- if is_incremental() %}
{%- set watermark = incremental_watermark('source_load_id') %}

-- Every branch starts from rows loaded after the watermark: no join here reads two big tables in full
-- (the last one only when a transaction type itself was reloaded).
changed as (
    select savings_transaction_id from transactions where load_id > {{ watermark }}
    union
    select reversal_of_id from transactions
    where load_id > {{ watermark }} and reversal_of_id is not null
    union
    select stored.savings_transaction_id
    from {{ this }} as stored
    inner join accounts on accounts.account_id = stored.account_id
    where accounts.load_id > {{ watermark }}
      and (accounts.customer_id <> stored.customer_id or accounts.branch_id <> stored.branch_id
           or accounts.savings_product_id <> stored.savings_product_id)
    union
    select stored.savings_transaction_id
    from {{ this }} as stored
    inner join transactions on transactions.savings_transaction_id = stored.savings_transaction_id
    inner join types on types.transaction_type_id = transactions.transaction_type_id
    where types.load_id > {{ watermark }}
      and (types.transaction_type_code <> stored.transaction_type_code or types.direction <> stored.direction)
),
{%- endif %}

to_write as (
    select * from transactions {{ restricted_to('savings_transaction_id', 'changed') }}
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
    reversed.savings_transaction_id is not null as is_reversed,
    transactions.load_id as source_load_id,
    {{ transformed_at() }} as transformed_at
from to_write as transactions
inner join types on types.transaction_type_id = transactions.transaction_type_id
inner join accounts on accounts.account_id = transactions.account_id
left join reversed on reversed.savings_transaction_id = transactions.savings_transaction_id
