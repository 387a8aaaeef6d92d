-- One row per disbursed loan: the money lent, the upfront fee, the net paid out, and whether it was the
-- customer's first loan.
select
    loan_id,
    customer_id,
    branch_id,
    officer_id,
    loan_product_id as product_id,
    disbursed_on,
    cast({{ dbt.date_trunc('month', 'disbursed_on') }} as date) as disbursed_month,
    amount_disbursed,
    fee_amount,
    amount_disbursed - fee_amount as net_amount_paid_out,
    cycle as loan_cycle,
    cycle = 1 as is_first_loan,
    term,
    frequency,
    annual_rate,
    disbursement_account_id is not null as is_into_savings
from {{ ref('stg_oltp__loans') }}
where not is_deleted and disbursed_on is not null
