-- journal_entries: the latest version of each row of raw.journal_entries, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('journal_entry_id') }}

with source as (
    {{ latest_version(source('oltp', 'journal_entries')) }}
),

renamed as (
    select
        id as journal_entry_id,
        created_at,
        updated_at,
        posted_on,
        posted_at,
        kind as entry_kind,
        description,
        source_type,
        source_id,
        branch_id,
        reversal_of_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
