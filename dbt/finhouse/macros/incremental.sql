{#- Incremental models: how the big tables are kept up to date without rebuilding them, and how their
    tests check what changed.

    The staging models of the big, append-mostly raw tables (journal lines and entries, payments, savings
    transactions, installments, repayments, allocations) and the facts and daily aggregates built on them
    are incremental: a run reads only the raw rows of the loads after the newest load the model holds
    (macro latest_version) and replaces those keys (delete+insert). Every row records the dbt invocation
    that wrote it in `transformed_at`.

    Loads are ordered by their load id (`_fh_load_id`, staging's `load_id`), never by `_fh_loaded_at`: that is
    the loader's wall clock, and a clock stepped back (an NTP correction, a restored VM, a loader on another
    host) would date new rows before a model's watermark: they would never be read, and the marts would go
    stale without an error. Load ids grow with every load whatever the clocks say (DuckDB: max + 1 under the
    warehouse's file lock, so in the order loads commit; Snowflake: a sequence). Every watermark is therefore
    a load id: a staging model's greatest `load_id`, a fact's `source_load_id` (the newest load of its row's
    sources), a period model's `sources_load_id` (the newest load among its inputs when it ran).

    A fact or period model compares the loads of several tables with one watermark, so it assumes a load that
    commits after a build has a greater id than every load that build read. DuckDB's single writer ensures
    it. On Snowflake, loads of different tables run in parallel and take their id before they commit: a load
    still running while a build runs could commit below that build's watermark (as with load times before). -#}

{#- The config of an incremental model keyed by `unique_key`: a run replaces the keys it writes. -#}
{% macro incremental_by_key(unique_key) -%}
    {{ config(
        materialized='incremental',
        unique_key=unique_key,
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    ) }}
{%- endmacro %}

{#- The watermark of an incremental run: the greatest load id the model holds (`column`: `load_id`,
    `source_load_id` or `sources_load_id`), as a SQL expression; 0 when it holds none (load ids start at 1).
    Rows of a load with a greater id are new to the model.

    On DuckDB it is read when the model runs and written into the SQL as a constant: a constant filter is
    pushed into the scans of the (append-ordered) staging tables, whose zone maps then skip every row group
    loaded before it, and the optimizer sees a few new rows rather than guessing at a subquery's result.
    With a scalar subquery instead, the four incremental facts took 367 s of one incremental build of the
    10M-transaction institution (bench/transform). Elsewhere (Snowflake) it stays that subquery: Snowflake
    prunes micro-partitions on it. -#}
{% macro incremental_watermark(column) -%}
    {{ return(adapter.dispatch('incremental_watermark', 'finhouse')(column)) }}
{%- endmacro %}

{% macro default__incremental_watermark(column) -%}
    (select coalesce(max({{ column }}), 0) from {{ this }})
{%- endmacro %}

{% macro duckdb__incremental_watermark(column) -%}
    {%- set newest = none -%}
    {%- if execute -%}
        {#- varchar: the digits as stored, never a float or a Decimal's exponent form. -#}
        {%- set newest = run_query('select cast(max(' ~ column ~ ') as varchar) from ' ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    cast({{ newest or 0 }} as bigint)
{%- endmacro %}

{#- The start of this dbt invocation, as a timestamp: the value of `transformed_at` of every row written now. -#}
{% macro transformed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- dbt's hook for the relation a generic test reads (`where` config included). In `dbt build`, a
    test of an incremental model that records `transformed_at` reads only the rows this invocation wrote:
    the others were tested when they were written and have not changed since (delete+insert replaces a
    changed key's row, so a key cannot appear twice either). On the first build or a --full-refresh every
    row was written now, so every row is tested; `dbt test` on its own always tests every row. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set scoped = fh_scoped_to_this_build(relation) -%}
    {%- if where or scoped -%}
        {%- set conditions = [] -%}
        {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
        {%- if scoped -%}{%- do conditions.append('transformed_at = ' ~ transformed_at()) -%}{%- endif -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- True when a test of `relation` reads only the rows this invocation wrote: in a `dbt build` that is not
    a --full-refresh (which writes, and so tests, every row), of an incremental model of this project with
    a `transformed_at` column. -#}
{% macro fh_scoped_to_this_build(relation) -%}
    {{ return(flags.WHICH == 'build' and not flags.FULL_REFRESH and fh_records_transformed_at(relation)) }}
{%- endmacro %}

{#- True when `relation` is an incremental model of this project with a `transformed_at` column. The model
    is looked up by name (this project's models keep their name as the table's), not by a loop over the
    graph: this runs for every test of the build, and a loop over the ~500 nodes in Jinja cost seconds. -#}
{% macro fh_records_transformed_at(relation) -%}
    {%- if not execute or relation.identifier is none -%}{{ return(false) }}{%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ (relation.identifier | lower)) -%}
    {{ return(node is not none
              and node.config.materialized == 'incremental'
              and 'transformed_at' in node.columns
              and node.schema | lower == (relation.schema or '') | lower) }}
{%- endmacro %}

{#- `name as {{ inlined() }} (…)`: a CTE the query reads more than once, kept inline. DuckDB materializes
    such a CTE by default, and a materialized CTE takes no filter from its readers: the incremental branches'
    watermark filters would then run on a full copy of the staging table (1.6 s instead of 0.4 s for
    fct_journal_lines on a 1M-entry institution, growing with the table). Other warehouses inline CTEs. -#}
{% macro inlined() -%}
    {{ return(adapter.dispatch('inlined', 'finhouse')()) }}
{%- endmacro %}

{% macro default__inlined() -%}{%- endmacro %}

{% macro duckdb__inlined() -%}not materialized{%- endmacro %}

{#- `select * from x {{ restricted_to('key', 'cte') }}`: in an incremental run, only the rows of x whose `key`
    is among those of `cte` (the keys this run writes, or the rows they join); in a full build, every row
    (the CTE `cte` is then not needed and need not exist). -#}
{% macro restricted_to(key, among) -%}
    {%- if is_incremental() -%}
    where {{ key }} in (select {{ key }} from {{ among }})
    {%- endif -%}
{%- endmacro %}

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
