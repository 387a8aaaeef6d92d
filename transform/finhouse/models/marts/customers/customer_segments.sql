-- Every customer's segments on the as-of date, by rules written here (no black box):
--   activity:   borrower_and_saver | borrower | saver | inactive (no outstanding loan, no open account
--               with money) | prospect (never borrowed, no account)
--   balance:    by outstanding principal + savings: high (≥ 100,000) | medium (≥ 20,000) | low (> 0) | none
--   product mix: loans_savings_deposits | loans_savings | loans_only | savings_only | deposits_only | none
--   repayment behaviour (borrowers): non_performing (DPD > 90) | late (DPD > 30) | watch (DPD 1-30, or
--               under 80% of installments paid on time) | excellent (≥ 95% on time) | good | new (nothing
--               fallen due yet)
with summary as (
    select * from {{ ref('int_customers_summarised') }}
),

customers as (
    select customer_id, customer_status, joined_on from {{ ref('stg_oltp__customers') }} where not is_deleted
),

rated as (
    select
        summary.*,
        customers.customer_status,
        customers.joined_on,
        {{ safe_divide('summary.installments_paid_on_time', 'summary.installments_fallen_due') }} as on_time_share
    from summary
    inner join customers on customers.customer_id = summary.customer_id
)

select
    customer_id,
    branch_id,
    officer_id,
    as_of_date,
    customer_status,
    loans_outstanding,
    principal_outstanding,
    savings_balance,
    fixed_deposit_principal,
    max_days_past_due,
    on_time_share,
    case
        when loans_outstanding > 0 and savings_balance > 0 then 'borrower_and_saver'
        when loans_outstanding > 0 then 'borrower'
        when savings_balance > 0 or fixed_deposits_active > 0 then 'saver'
        when loans_disbursed > 0 or savings_accounts_open > 0 then 'inactive'
        else 'prospect'
    end as activity_segment,
    case
        when principal_outstanding + savings_balance >= 100000 then 'high'
        when principal_outstanding + savings_balance >= 20000 then 'medium'
        when principal_outstanding + savings_balance > 0 then 'low'
        else 'none'
    end as balance_segment,
    case
        when loans_outstanding > 0 and savings_balance > 0 and fixed_deposits_active > 0 then 'loans_savings_deposits'
        when loans_outstanding > 0 and savings_balance > 0 then 'loans_savings'
        when loans_outstanding > 0 then 'loans_only'
        when savings_balance > 0 then 'savings_only'
        when fixed_deposits_active > 0 then 'deposits_only'
        else 'none'
    end as product_mix_segment,
    case
        when loans_disbursed = 0 then 'not_a_borrower'
        when max_days_past_due > 90 then 'non_performing'
        when max_days_past_due > 30 then 'late'
        when installments_fallen_due = 0 then 'new'
        when max_days_past_due > 0 or on_time_share < 0.80 then 'watch'
        when on_time_share >= 0.95 then 'excellent'
        else 'good'
    end as repayment_segment
from rated
