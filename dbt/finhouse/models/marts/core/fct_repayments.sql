-- One row per repayment received on a loan, split penalty → fee → interest → principal, with the loan's
-- customer, branch, officer and product and the channel the money came by.
with repayments as (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

payments as (
    select * from {{ ref('stg_oltp__payments') }} where not is_deleted
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
    repayments.savings_account_id
from repayments
inner join loans on loans.loan_id = repayments.loan_id
left join payments on payments.payment_id = repayments.payment_id
