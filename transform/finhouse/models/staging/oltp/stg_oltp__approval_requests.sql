-- approval_requests: maker-checker requests (corebanking/access) — an operation that needs a second user
-- (write-off, restructure, reversal, KYC verification), who asked, who decided and how. Left out: params
-- and summary (free text that may name a customer).
with source as (
    {{ latest_version(source('oltp', 'approval_requests')) }}
),

renamed as (
    select
        id as approval_request_id,
        operation,
        target_model,
        target_id,
        branch_id,
        status,
        maker_id,
        made_at,
        checker_id,
        checked_at,
        result_model,
        result_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
