-- One row per customer (soft-deleted ones flagged: their loans still point at them) and the financial summary
-- as of the as-of date. No personal data: names, date of birth, national ID and phone stay in staging (a mart
-- is what every dashboard user reads); the customer is customer_number, their age an age band.
{%- set age_years = 'floor(' ~ dbt.datediff('customers.date_of_birth', 'summary.as_of_date', 'month') ~ ' / 12)' %}

with customers as (
    select * from {{ ref('stg_oltp__customers') }} where customer_number is not null
),

summary as (
    select * from {{ ref('int_customers_summarised') }}
)

select
    customers.customer_id,
    customers.customer_number,
    customers.gender,
    -- whole years from the months between: a band is all a report needs, and a month either way moves
    -- nobody across one but on their birthday month
    case
        when customers.date_of_birth is null then null
        when {{ age_years }} < 25 then 'under 25'
        when {{ age_years }} < 35 then '25-34'
        when {{ age_years }} < 45 then '35-44'
        when {{ age_years }} < 55 then '45-54'
        else '55 and over'
    end as age_band,
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
