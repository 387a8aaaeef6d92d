-- One row per customer (soft-deleted ones flagged: their loans still point at them), with national ID and
-- phone MASKED (PII never reaches a mart in clear) and the financial summary as of the as-of date.
with customers as (
    select * from {{ ref('stg_oltp__customers') }} where customer_number is not null
),

summary as (
    select * from {{ ref('int_customers_summarised') }}
)

select
    customers.customer_id,
    customers.customer_number,
    customers.first_name,
    customers.last_name,
    {{ mask_national_id('customers.national_id') }} as national_id_masked,
    {{ mask_phone('customers.phone') }} as phone_masked,
    customers.gender,
    {{ dbt.date_trunc('year', 'customers.date_of_birth') }} as birth_year_start,
    customers.branch_id,
    customers.officer_id,
    customers.kyc_status,
    customers.customer_status,
    customers.business_sector,
    customers.joined_on,
    customers.is_deleted,
    summary.as_of_date,
    summary.loans_disbursed,
    summary.loan_cycle,
    summary.loans_outstanding,
    summary.principal_outstanding,
    summary.max_days_past_due,
    summary.savings_balance,
    summary.fixed_deposit_principal,
    summary.loans_outstanding > 0 as is_active_borrower,
    (summary.loans_outstanding > 0 or summary.savings_accounts_open > 0) as is_active_client
from customers
inner join summary on summary.customer_id = customers.customer_id
