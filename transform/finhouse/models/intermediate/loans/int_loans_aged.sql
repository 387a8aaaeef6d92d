-- Every loan outstanding on the as-of date, aged (macro loans_aged): the current position the KPI marts,
-- dim_loans and the reconciliation tests read.
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

{{ loans_aged('as_of') }}

select
    loans_aged.*,
    {{ dpd_bucket('loans_aged.days_past_due') }} as dpd_bucket,
    {{ provision_rate('loans_aged.days_past_due') }} as provision_rate
from loans_aged
