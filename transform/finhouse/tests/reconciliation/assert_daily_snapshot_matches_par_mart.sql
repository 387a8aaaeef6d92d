-- The daily portfolio snapshot of the as-of date and the PAR mart's row for that date agree on GLP, PAR30
-- principal and loans: the incremental model and the month-end rebuild are the same computation.
with snapshot as (
    select sum(gross_loan_portfolio) as glp, sum(par_30_principal) as par_30, sum(active_loans) as loans
    from {{ ref('portfolio_snapshot_daily') }}
    where snapshot_date = (select as_of_date from {{ ref('int_calendar_as_of') }})
),

mart as (
    select gross_loan_portfolio as glp, par_30_principal as par_30, active_loans as loans
    from {{ ref('portfolio_at_risk_monthly') }}
    where grain = 'institution' and period_end = (select as_of_date from {{ ref('int_calendar_as_of') }})
)

select snapshot.*, mart.glp as mart_glp, mart.par_30 as mart_par_30, mart.loans as mart_loans
from snapshot
cross join mart
where {{ cents_differ('snapshot.glp', 'mart.glp') }}
   or {{ cents_differ('snapshot.par_30', 'mart.par_30') }}
   or snapshot.loans <> mart.loans
