-- Loan by loan, the rebuilt outstanding principal on the as-of date equals the loan row's
-- principal_outstanding, and exactly the active/restructured loans are outstanding (when the as-of date is
-- the data's last date, the default; a historical as-of date skips the check).
{{ config(enabled=var('as_of_date') is none) }}

with aged as (
    select loan_id, principal_outstanding from {{ ref('int_loans_aged') }}
),

loans as (
    select loan_id, principal_outstanding
    from {{ ref('stg_oltp__loans') }}
    where not is_deleted and loan_status in ('active', 'restructured')
)

select coalesce(aged.loan_id, loans.loan_id) as loan_id, aged.principal_outstanding as rebuilt, loans.principal_outstanding as recorded
from aged
full outer join loans on loans.loan_id = aged.loan_id
where aged.loan_id is null or loans.loan_id is null or {{ cents_differ('aged.principal_outstanding', 'loans.principal_outstanding') }}
