-- One row per loan product: its terms (savings and fixed-deposit products are described in their marts).
select
    loan_product_id as product_id,
    loan_product_code as product_code,
    loan_product_name as product_name,
    lending_type,
    interest_method,
    annual_rate,
    frequency,
    min_term,
    max_term,
    min_amount,
    max_amount,
    fee_rate,
    penalty_rate,
    penalty_grace_days,
    grace_period_days,
    is_active
from {{ ref('stg_oltp__loan_products') }}
where not is_deleted
