{#- Incremental models of period-end positions (strategy `replace_from`): int_loans_aged_monthly,
    int_savings_accounts_balanced_monthly and the marts recomputed from the months they rewrote. Load ids as
    watermarks, and the macros every incremental model shares: incremental.sql. -#}

{#- Models of period-end positions (balances, aging at every month-end): a run recomputes every period from
    the first one whose inputs changed to the last one, and keeps the closed periods before it as stored.
    `key` is the period column (month_start). The models say which business dates changed (macro
    first_period_to_rebuild); the strategy below replaces the periods they write. -#}
{% macro incremental_by_period(key) -%}
    {#- tmp_relation_type: the new rows are kept in a table, read by both statements of the strategy
        (Snowflake would otherwise stage them as a view, run twice). -#}
    {{ config(
        materialized='incremental',
        unique_key=key,
        incremental_strategy='replace_from',
        tmp_relation_type='table',
        on_schema_change='fail'
    ) }}
{%- endmacro %}

{#- Incremental strategy `replace_from` (dbt looks it up by this name): the stored rows of every period from
    the first one this run wrote onwards are deleted, then the new rows inserted. Unlike delete+insert it also
    drops a later period the run no longer writes (the as-of date moved back) and a recomputed period's rows
    that are gone (a loan closed earlier). A run that writes nothing deletes nothing. -#}
{% macro get_incremental_replace_from_sql(arg_dict) -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ key }} >= (select min({{ key }}) from {{ arg_dict['temp_relation'] }});

    insert into {{ arg_dict['target_relation'] }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ arg_dict['temp_relation'] }}
    )
{%- endmacro %}

{#- The first period (month start, as a SQL date expression) an incremental run of a period-end model must
    recompute: the month of the earliest business date in `changed_dates`, a query with one date column
    `business_date` listing the dates the inputs changed on since the model's last run. Read when the model
    runs (one small query), so the model's filter is a constant. `false` as the SQL of a run with nothing to
    recompute; not called in a full build, which writes every period. -#}
{% macro first_period_to_rebuild(changed_dates) -%}
    {{ return(fh_date_from_query(
        'select cast(min(cast(' ~ dbt.date_trunc('month', 'business_date') ~ ' as date)) as '
        ~ dbt.type_string() ~ ') from (' ~ changed_dates ~ ') as changed_dates')) }}
{%- endmacro %}

{#- The one date a query returns (as text), as a SQL date expression; none when it returns null. Read when
    the model runs, so the model's filter is a constant. -#}
{% macro fh_date_from_query(query) -%}
    {%- if not execute -%}{{ return("cast('1900-01-01' as date)") }}{%- endif -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {{ return("cast('" ~ value ~ "' as date)" if value else none) }}
{%- endmacro %}

{#- The first period (a SQL date expression) an incremental run of a model built on the period-end model
    `upstream` must recompute: the earliest period `upstream` rewrote since this model's last run (its rows
    carry a later `transformed_at` than any row here). None when it rewrote nothing. -#}
{% macro first_period_rewritten(upstream, key='month_start') -%}
    {{ return(fh_date_from_query(
        'select cast(min(' ~ key ~ ') as ' ~ dbt.type_string() ~ ') from ' ~ upstream
        ~ ' where transformed_at > (select max(transformed_at) from ' ~ this ~ ')')) }}
{%- endmacro %}

{#- `where {{ from_period('month_start', rebuild_from) }}`: in an incremental run of a period model, the
    periods from `rebuild_from` on (none when it is none); in a full build, every period. -#}
{% macro from_period(column, rebuild_from) -%}
    {%- if not is_incremental() -%}true
    {%- elif rebuild_from -%}{{ column }} >= {{ rebuild_from }}
    {%- else -%}false
    {%- endif -%}
{%- endmacro %}

{#- In a period model's change detection: true for an entity loaded since (a row of `since`) that has stored
    rows (`stored`, joined on `key`) with other `attributes`, or that was deleted: its whole history moves. -#}
{% macro moved_since_stored(since, stored, key, attributes) -%}
    ({{ stored }}.{{ key }} is not null and (
        {{ since }}.is_deleted
        {%- for column in attributes %}
        or {{ since }}.{{ column }} is distinct from {{ stored }}.{{ column }}
        {%- endfor %}
    ))
{%- endmacro %}

{#- In a period model's change detection: when the as-of date moved, the earlier of the stored rows' last
    period end (column `stored_as_of`) and the calendar's — the month in progress, and the one it was in,
    changed their period end. One `business_date` row, or none. -#}
{% macro as_of_move_date(stored_as_of) -%}
    select case when stored_as_of < as_of then stored_as_of else as_of end as business_date
    from (
        select (select max({{ stored_as_of }}) from {{ this }}) as stored_as_of,
               (select max(period_end) from {{ ref('int_calendar_month_ends') }}) as as_of
    ) as as_of_dates
    where stored_as_of <> as_of
{%- endmacro %}

{#- `select {{ newest_load([(ref('a'), 'load_id'), …]) }} as sources_load_id`: the newest load (greatest load
    id) among a period model's inputs when it runs — the watermark its next run compares their loads with. -#}
{% macro newest_load(inputs) -%}
    (select max(newest) from (
        {%- for relation, column in inputs %}
        {% if not loop.first %}union all {% endif %}select max({{ column }}) as newest from {{ relation }}
        {%- endfor %}
    ) as newest_loads)
{%- endmacro %}
