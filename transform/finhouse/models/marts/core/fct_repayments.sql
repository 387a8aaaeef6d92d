-- One row per repayment received on a loan, split penalty → fee → interest → principal, with the loan's
-- customer, branch, officer and product and the channel the money came by.
-- Incremental: a run rewrites the repayments loaded since the last run, those whose payment was loaded
-- since (its channel), and those whose loan's customer, branch, officer or product changed.
{{ incremental_by_key('repayment_id') }}

with repayments as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

loans as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

payments as {{ inlined() }} (
    select * from {{ ref('stg_oltp__payments') }} where not is_deleted
),

{%- if is_incremental() %}
{%- set watermark = incremental_watermark('source_load_id') %}

-- Every branch starts from rows loaded after the watermark: no join here reads two big tables in full.
changed as (
    select repayment_id from repayments where load_id > {{ watermark }}
    union
    select repayment_id from repayments
    where payment_id in (select payment_id from payments where load_id > {{ watermark }})
    union
    select stored.repayment_id
    from {{ this }} as stored
    inner join loans on loans.loan_id = stored.loan_id
    where loans.load_id > {{ watermark }}
      and (loans.customer_id <> stored.customer_id or loans.branch_id <> stored.branch_id
           or loans.officer_id <> stored.officer_id or loans.loan_product_id <> stored.product_id)
),
{%- endif %}

to_write as (
    select * from repayments {{ restricted_to('repayment_id', 'changed') }}
),

payments_to_join as (
    select * from payments {{ restricted_to('payment_id', 'to_write') }}
)

select
    repayments.repayment_id,
    repayments.loan_id,
    loans.customer_id,
    loans.branch_id,
    loans.officer_id,
    loans.loan_product_id as product_id,
    repayments.paid_on,
    cast({{ dbt.date_trunc('month', 'repayments.paid_on') }} as date) as paid_month,
    repayments.amount,
    repayments.principal_amount,
    repayments.interest_amount,
    repayments.fee_amount,
    repayments.penalty_amount,
    case when repayments.savings_account_id is not null then 'savings' else payments.channel end as channel,
    repayments.payment_id,
    repayments.savings_account_id,
    greatest(repayments.load_id, coalesce(payments.load_id, repayments.load_id)) as source_load_id,
    {{ transformed_at() }} as transformed_at
from to_write as repayments
inner join loans on loans.loan_id = repayments.loan_id
left join payments_to_join as payments on payments.payment_id = repayments.payment_id
