-- The PAR mart's outstanding principal on the as-of date equals Σ principal_outstanding of the loans the
-- core banking system holds as outstanding (staging = the raw copy of the OLTP), institution and per branch.
-- (The pytest tests/test_dbt_build.py closes the loop against PostgreSQL itself.)
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

mart as (
    select coalesce(branch_id, -1) as branch_id, gross_loan_portfolio
    from {{ ref('portfolio_at_risk_monthly') }}
    where period_end = (select as_of_date from as_of) and grain in ('institution', 'branch')
),

source_loans as (
    select branch_id, principal_outstanding
    from {{ ref('stg_oltp__loans') }}
    where not is_deleted and loan_status in ('active', 'restructured')
),

expected as (
    select -1 as branch_id, sum(principal_outstanding) as principal_outstanding from source_loans
    union all
    select branch_id, sum(principal_outstanding) from source_loans group by branch_id
)

select expected.branch_id, expected.principal_outstanding, mart.gross_loan_portfolio
from expected
full outer join mart on mart.branch_id = expected.branch_id
where {{ cents_differ('mart.gross_loan_portfolio', 'expected.principal_outstanding') }}
