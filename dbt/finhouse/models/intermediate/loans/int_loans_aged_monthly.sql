-- Every outstanding loan at every month-end (and at the as-of date for the month in progress): outstanding
-- principal, days past due from the oldest unpaid installment, arrears and installments missed, rebuilt
-- from schedules and dated allocations (macro loans_aged). The base of PAR, aging and GLP history.
with period_ends as (
    select period_end as as_of_date, month_start from {{ ref('int_calendar_month_ends') }}
),

{{ loans_aged('period_ends') }}

select
    period_ends.month_start,
    loans_aged.*,
    {{ dpd_bucket('loans_aged.days_past_due') }} as dpd_bucket,
    {{ provision_rate('loans_aged.days_past_due') }} as provision_rate
from loans_aged
inner join period_ends on period_ends.as_of_date = loans_aged.as_of_date
