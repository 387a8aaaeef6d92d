-- GL 1100 (gross loan portfolio, debits − credits) equals the GLP rebuilt from schedules and allocations
-- at EVERY month-end, not only today: the history the PAR marts publish is the books' history.
with gl as (
    select month_start, closing_balance from {{ ref('int_gl_trial_balance_monthly') }} where gl_code = '1100'
),

portfolio as (
    select month_start, sum(principal_outstanding) as glp
    from {{ ref('int_loans_aged_monthly') }}
    group by month_start
)

select gl.month_start, gl.closing_balance, portfolio.glp
from gl
left join portfolio on portfolio.month_start = gl.month_start
where {{ cents_differ('gl.closing_balance', 'portfolio.glp') }}
