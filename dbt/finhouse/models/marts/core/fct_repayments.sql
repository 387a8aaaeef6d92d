-- One row per repayment received on a loan, split penalty → fee → interest → principal, with the loan's
-- customer, branch, officer and product and the channel the money came by.
-- Incremental: a run rewrites the repayments loaded since the last run, those whose payment was loaded
-- since (its channel), and those whose loan's customer, branch, officer or product changed.
{{ config(
    materialized='incremental',
    unique_key='repayment_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with repayments as (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

payments as (
    select * from {{ ref('stg_oltp__payments') }} where not is_deleted
),

{%- if is_incremental() %}

watermark as (
    select coalesce(max(source_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) as loaded_at
    from {{ this }}
),

changed as (
    select repayment_id from repayments where loaded_at > (select loaded_at from watermark)
    union
    select repayments.repayment_id
    from repayments
    inner join payments on payments.payment_id = repayments.payment_id
    where payments.loaded_at > (select loaded_at from watermark)
    union
    select stored.repayment_id
    from {{ this }} as stored
    inner join loans on loans.loan_id = stored.loan_id
    where loans.customer_id <> stored.customer_id or loans.branch_id <> stored.branch_id
       or loans.officer_id <> stored.officer_id or loans.loan_product_id <> stored.product_id
),

to_write as (
    select * from repayments where repayment_id in (select repayment_id from changed)
)
{%- else %}

to_write as (
    select * from repayments
)
{%- endif %}

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
    greatest(repayments.loaded_at, coalesce(payments.loaded_at, repayments.loaded_at)) as source_loaded_at,
    {{ transformed_at() }} as transformed_at
from to_write as repayments
inner join loans on loans.loan_id = repayments.loan_id
left join payments on payments.payment_id = repayments.payment_id
