-- One row per branch.
select
    branch_id,
    branch_code,
    branch_name,
    region,
    opened_on
from {{ ref('stg_oltp__branches') }}
where not is_deleted
