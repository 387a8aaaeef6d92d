-- Every outstanding loan at every month-end (and at the as-of date for the month in progress): outstanding
-- principal, days past due from the oldest unpaid installment, arrears and installments missed, rebuilt
-- from schedules and dated allocations (macro loans_aged). The base of PAR, aging and GLP history.
--
-- Incremental by period (macro incremental_by_period): a month-end position changes only when something
-- dated on or before it changes, so a run recomputes the months from the earliest business date among the
-- rows loaded since its last run (a backdated repayment or write-off moves that start back), and from the
-- month in progress when the as-of date moved. A loan whose branch, officer, product, customer or
-- disbursement changed is rewritten from its disbursement; one that ended (closed or written off) since, or
-- now ends in another month, from the earlier of the two. A loan that ended has no rows after it, so where
-- its stored rows stop tells when it had ended.
{{ incremental_by_period('month_start') }}

{%- set rebuild_from = none %}
{%- if is_incremental() %}
{%- set since = incremental_watermark('sources_load_id') %}
{%- set changed_dates %}
    with loans_since as (
        select loan_id, customer_id, branch_id, officer_id, loan_product_id, disbursed_on, is_deleted,
               -- the day the loan stopped being outstanding: closed or written off, whichever came first
               case when written_off_on is null or closed_on < written_off_on then closed_on
                    else written_off_on end as ended_on
        from {{ ref('stg_oltp__loans') }}
        where load_id > {{ since }}
    ),

    stored as (
        -- a loan's rows: one per month-end it was outstanding at, all with the same attributes
        select loan_id, max(month_start) as last_month, max(customer_id) as customer_id,
               max(branch_id) as branch_id, max(officer_id) as officer_id,
               max(loan_product_id) as loan_product_id, max(disbursed_on) as disbursed_on
        from {{ this }}
        where loan_id in (select loan_id from loans_since)
        group by loan_id
    ),

    compared as (
        select
            loans_since.*,
            stored.loan_id is null as is_new,
            stored.disbursed_on as stored_disbursed_on,
            -- stored rows stop before the latest month: the loan ended in the month after its last one
            stored.last_month < (select max(month_start) from {{ this }}) as had_ended,
            cast({{ dbt.dateadd('month', 1, 'stored.last_month') }} as date) as ended_in_month,
            {{ moved_since_stored('loans_since', 'stored', 'loan_id',
                                  ['customer_id', 'branch_id', 'officer_id', 'loan_product_id', 'disbursed_on']) }} as is_moved
        from loans_since
        left join stored on stored.loan_id = loans_since.loan_id
    )

    -- a new loan from its disbursement; a moved (or deleted) one from the earlier disbursement date
    select disbursed_on as business_date from compared where (is_new and not is_deleted) or is_moved
    union all select stored_disbursed_on from compared where is_moved
    -- a loan outstanding at the last run that has ended since (or backdated): from its end
    union all select ended_on from compared where not is_new and not had_ended
    -- a loan that had ended and now ends in another month (or not at all): from the earlier month
    union all select ended_in_month from compared
        where had_ended and (ended_on is null or cast({{ dbt.date_trunc('month', 'ended_on') }} as date) <> ended_in_month)
    union all select ended_on from compared
        where had_ended and cast({{ dbt.date_trunc('month', 'ended_on') }} as date) <> ended_in_month
    -- the dated rows loaded since: repayments (a reversed one at its own date), installments completed,
    -- allocations, restructures, and journal entries (the calendar's first month and the as-of date come
    -- from them). An installment's due date does not move: a new schedule comes with a restructure or a
    -- disbursement, whose dates are here; an installment paid late changes nothing before its completion.
    union all select paid_on from {{ ref('stg_oltp__loan_repayments') }} where load_id > {{ since }}
    union all select completed_on from {{ ref('stg_oltp__loan_installments') }} where load_id > {{ since }}
    union all select paid_on from {{ ref('int_loan_installment_payments') }} where source_load_id > {{ since }}
    union all select restructured_on from {{ ref('stg_oltp__loan_restructures') }} where load_id > {{ since }}
    union all select posted_on from {{ ref('stg_oltp__journal_entries') }} where load_id > {{ since }}
    -- the as-of date moved: the month in progress (and the one it was in) changed its period end
    union all {{ as_of_move_date('as_of_date') }}
{%- endset %}
{%- set rebuild_from = first_period_to_rebuild(changed_dates) %}
{%- endif %}

with period_ends as (
    select period_end as as_of_date, month_start
    from {{ ref('int_calendar_month_ends') }}
    where {{ from_period('month_start', rebuild_from) }}
),

sources_loaded as (
    -- the newest load among the inputs: the next run's watermark
    select {{ newest_load([
        (ref('stg_oltp__loans'), 'load_id'),
        (ref('stg_oltp__loan_repayments'), 'load_id'),
        (ref('stg_oltp__loan_installments'), 'load_id'),
        (ref('int_loan_installment_payments'), 'source_load_id'),
        (ref('stg_oltp__loan_restructures'), 'load_id'),
        (ref('stg_oltp__journal_entries'), 'load_id'),
    ]) }} as sources_load_id
),

{{ loans_aged('period_ends') }}

select
    period_ends.month_start,
    loans_aged.*,
    {{ dpd_bucket('loans_aged.days_past_due') }} as dpd_bucket,
    {{ provision_rate('loans_aged.days_past_due') }} as provision_rate,
    sources_loaded.sources_load_id,
    {{ transformed_at() }} as transformed_at
from loans_aged
inner join period_ends on period_ends.as_of_date = loans_aged.as_of_date
cross join sources_loaded
