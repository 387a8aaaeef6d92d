-- One row per general-ledger journal line, with its entry (date, kind, branch, the business row it books)
-- and account. Reversal entries and the entries they reverse are flagged.
-- Incremental: a run rewrites the lines loaded since the last run, the lines of entries loaded since (an
-- entry changed or was reversed by a new one) and the lines whose account's code, name or type changed.
{{ incremental_by_key('journal_line_id') }}

with lines as {{ inlined() }} (
    select * from {{ ref('stg_oltp__journal_lines') }} where not is_deleted
),

entries as {{ inlined() }} (
    select * from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

accounts as {{ inlined() }} (
    select * from {{ ref('stg_oltp__gl_accounts') }} where not is_deleted
),

{%- if is_incremental() %}
{%- set watermark = incremental_watermark('source_load_id') %}

-- Every branch starts from rows loaded after the watermark (a few, on a daily run): no join here reads two
-- big tables in full.
changed_entries as (
    select journal_entry_id from entries where load_id > {{ watermark }}
    union
    select reversal_of_id from entries
    where load_id > {{ watermark }} and reversal_of_id is not null
    union
    select stored.journal_entry_id
    from {{ this }} as stored
    inner join accounts on accounts.gl_code = stored.gl_code
    where accounts.load_id > {{ watermark }}
      and (accounts.gl_name <> stored.gl_name or accounts.gl_type <> stored.gl_type)
),

lines_to_write as (
    select * from lines where load_id > {{ watermark }}
    union all
    select * from lines
    where load_id <= {{ watermark }}
      and journal_entry_id in (select journal_entry_id from changed_entries)
),
{%- else %}

lines_to_write as (
    select * from lines
),
{%- endif %}

entries_to_write as (
    select * from entries {{ restricted_to('journal_entry_id', 'lines_to_write') }}
),

reversed as (
    select distinct reversal_of_id as journal_entry_id from entries where reversal_of_id is not null
)

select
    lines.journal_line_id,
    lines.journal_entry_id,
    entries.posted_on,
    cast({{ dbt.date_trunc('month', 'entries.posted_on') }} as date) as posted_month,
    entries.entry_kind,
    entries.branch_id,
    entries.source_type,
    entries.source_id,
    accounts.gl_code,
    accounts.gl_name,
    accounts.gl_type,
    lines.debit,
    lines.credit,
    entries.reversal_of_id is not null as is_reversal,
    reversed.journal_entry_id is not null as is_reversed,
    greatest(lines.load_id, entries.load_id) as source_load_id,
    {{ transformed_at() }} as transformed_at
from lines_to_write as lines
inner join entries_to_write as entries on entries.journal_entry_id = lines.journal_entry_id
inner join accounts on accounts.gl_account_id = lines.gl_account_id
left join reversed on reversed.journal_entry_id = lines.journal_entry_id
