-- journal_lines: the latest version of each row of raw.journal_lines, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('journal_line_id') }}

with source as (
    {{ latest_version(source('oltp', 'journal_lines')) }}
),

renamed as (
    select
        id as journal_line_id,
        created_at,
        updated_at,
        debit,
        credit,
        entry_id as journal_entry_id,
        gl_account_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
