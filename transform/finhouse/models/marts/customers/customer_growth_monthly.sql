-- Customers per month: new (joined in the month), active clients at month-end (an outstanding loan or an
-- open savings account with money, docs/kpis.md), active borrowers, and customers by OLTP status
-- (dormant / exited are the system's current statuses, counted for the customers who joined by then).
with periods as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

customers as (
    select * from {{ ref('stg_oltp__customers') }} where not is_deleted
),

borrowers as (
    select month_start, customer_id from {{ ref('int_loans_aged_monthly') }}
),

savers as (
    select month_start, customer_id from {{ ref('int_savings_accounts_balanced_monthly') }}
    where is_open and balance > 0
),

active as (
    select month_start, customer_id from borrowers
    union
    select month_start, customer_id from savers
)

select
    periods.month_start,
    periods.period_end,
    (select count(*) from customers
     where customers.joined_on between periods.month_start and periods.period_end) as new_customers,
    (select count(*) from customers where customers.joined_on <= periods.period_end) as customers_joined_to_date,
    (select count(distinct borrowers.customer_id) from borrowers
     where borrowers.month_start = periods.month_start) as active_borrowers,
    (select count(*) from active where active.month_start = periods.month_start) as active_clients,
    (select count(*) from customers
     where customers.joined_on <= periods.period_end and customers.customer_status = 'dormant')
        as dormant_customers_now,
    (select count(*) from customers
     where customers.joined_on <= periods.period_end and customers.customer_status = 'exited')
        as exited_customers_now
from periods
