-- The one date every mart is computed as of: var('as_of_date') when set, else the data's last business
-- date (the latest journal entry, repayment or disbursement), so a rebuild of the same warehouse is stable.
{%- set as_of = var('as_of_date') %}

with journal_entries as (
    select posted_on as business_date from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

repayments as (
    select paid_on as business_date from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

loans as (
    select disbursed_on as business_date from {{ ref('stg_oltp__loans') }} where not is_deleted
),

business_dates as (
    select business_date from journal_entries
    union all
    select business_date from repayments
    union all
    select business_date from loans
)

select
{%- if as_of %}
    cast('{{ as_of }}' as date) as as_of_date
{%- else %}
    max(business_date) as as_of_date
{%- endif %}
from business_dates
