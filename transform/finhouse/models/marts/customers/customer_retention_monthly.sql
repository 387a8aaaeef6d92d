-- Borrower retention by the month loans closed (repaid): the share of closed loans whose borrower took a
-- next loan within var('retention_window_days') days of closing (docs/kpis.md, 90 by default). Months whose
-- window has not yet ended on the as-of date are marked incomplete.
with loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted and disbursed_on is not null
),

as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

closed as (
    select loans.loan_id, loans.customer_id, loans.branch_id, loans.closed_on,
           cast({{ dbt.date_trunc('month', 'loans.closed_on') }} as date) as closed_month
    from loans
    cross join as_of
    where loans.closed_on <= as_of.as_of_date
),

next_loans as (
    select
        closed.loan_id,
        min(later.disbursed_on) as next_disbursed_on
    from closed
    inner join loans as later
        on later.customer_id = closed.customer_id
        and later.disbursed_on >= closed.closed_on
        and later.loan_id <> closed.loan_id
    group by closed.loan_id
)

select
    closed.closed_month,
    count(*) as loans_closed,
    count(distinct closed.customer_id) as borrowers_closed,
    {%- set gap = dbt.datediff('closed.closed_on', 'next_loans.next_disbursed_on', 'day') %}
    {%- set followed = 'case when ' ~ gap ~ ' <= ' ~ var('retention_window_days') ~ ' then 1 else 0 end' %}
    sum({{ followed }}) as loans_followed_within_window,
    {{ safe_divide('sum(' ~ followed ~ ')', 'count(*)') }} as retention_rate,
    {%- set window_end = dbt.dateadd('day', var('retention_window_days'),
                                     dbt.last_day('closed.closed_month', 'month')) %}
    max(as_of.as_of_date) < cast({{ window_end }} as date) as is_window_incomplete
from closed
cross join as_of
left join next_loans on next_loans.loan_id = closed.loan_id
group by closed.closed_month
