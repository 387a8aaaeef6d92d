-- Every allocation of a repayment to an installment, with the repayment's date beside the installment's
-- due date and the loan's branch, officer, product and disbursement cohort: what collection efficiency
-- measures. Scheduled amounts (principal, interest, fees) are kept apart from penalties.
-- Incremental: a run rewrites the allocations loaded since the last run, those of repayments loaded since,
-- and those whose installment (loan, due date) or loan (branch, officer, product, disbursement) changed.
{{ config(
    materialized='incremental',
    unique_key='allocation_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with allocations as (
    select * from {{ ref('stg_oltp__loan_repayment_allocations') }} where not is_deleted
),

repayments as (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

installments as (
    select * from {{ ref('stg_oltp__loan_installments') }} where not is_deleted
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

{%- if is_incremental() %}

watermark as (
    select coalesce(max(source_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) as loaded_at
    from {{ this }}
),

changed as (
    select allocation_id from allocations where loaded_at > (select loaded_at from watermark)
    union
    select allocations.allocation_id
    from allocations
    inner join repayments on repayments.repayment_id = allocations.repayment_id
    where repayments.loaded_at > (select loaded_at from watermark)
    union
    select stored.allocation_id
    from {{ this }} as stored
    inner join installments on installments.installment_id = stored.installment_id
    inner join loans on loans.loan_id = installments.loan_id
    where installments.loan_id <> stored.loan_id or installments.due_on <> stored.due_on
       or loans.branch_id <> stored.branch_id or loans.officer_id <> stored.officer_id
       or loans.loan_product_id <> stored.loan_product_id
       or cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) <> stored.cohort_month
),

to_write as (
    select * from allocations where allocation_id in (select allocation_id from changed)
)
{%- else %}

to_write as (
    select * from allocations
)
{%- endif %}

select
    allocations.allocation_id,
    allocations.repayment_id,
    allocations.installment_id,
    installments.loan_id,
    loans.branch_id,
    loans.officer_id,
    loans.loan_product_id,
    cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) as cohort_month,
    installments.due_on,
    repayments.paid_on,
    allocations.principal_amount,
    allocations.interest_amount,
    allocations.fee_amount,
    allocations.penalty_amount,
    allocations.principal_amount + allocations.interest_amount + allocations.fee_amount as scheduled_amount,
    repayments.paid_on <= installments.due_on as is_paid_by_due_date,
    greatest(allocations.loaded_at, repayments.loaded_at) as source_loaded_at,
    {{ transformed_at() }} as transformed_at
from to_write as allocations
inner join repayments on repayments.repayment_id = allocations.repayment_id
inner join installments on installments.installment_id = allocations.installment_id
inner join loans on loans.loan_id = installments.loan_id
