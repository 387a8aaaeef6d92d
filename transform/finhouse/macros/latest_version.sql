{#- The latest version of every key of a raw table (fhload's RAW layer is append-only and holds
    duplicates from incremental overlap): the row of the key's newest load. Keeps `_fh_op` so the
    staging model can flag deletes; the caller renames and casts.

    Load ids grow with load time, and one load holds a key at most once (each load reads one snapshot of
    the source), so the newest version is the key's row with the greatest _fh_load_id. It is found with an
    aggregate over (key, load id) and a join back, not a window over whole rows: on the 24M journal lines
    a window buffers every column of every row and ran out of 4GB beside the other staging models; the
    aggregate holds two integers per key and the join streams the rows.

    In an incremental staging model (macro incremental_by_key) only the raw rows of loads after the
    newest load the model already holds (a greater _fh_load_id) are read: a key's newest version is then
    among them whenever the key changed, and delete+insert on the key replaces the stored version. Load
    ids, never _fh_loaded_at: that is the loader's wall clock, and a clock stepped back (NTP, a restored
    VM, a loader on another host) would date a new load before the watermark and its rows would never be
    read; load ids grow in the order loads commit, whatever the clock says.

    Streamed loads (`fhload stream`, DuckDB only) break "one load holds a key at most once": a group
    commit is one load per table and can hold several changes of one key (insert, then updates, then
    perhaps a delete). fhload marks every one of them but the last with _fh_superseded = true, so
    filtering those rows out (here and in the aggregate) restores the rule and the key's newest row is
    again unique. The filter is DuckDB's only (latest_version_current_filter, dispatched): Snowflake's
    raw tables are written by batch loads alone, which never supersede, and do not carry the column. -#}
{% macro latest_version(relation, key='id') %}
    {%- set since -%}
        {%- if is_incremental() -%}
        _fh_load_id > {{ incremental_watermark('load_id') }}
        {%- else -%}
        true
        {%- endif -%}
    {%- endset %}
    select versions.*
    from {{ relation }} as versions
    inner join (
        select {{ key }} as _fh_key, max(_fh_load_id) as _fh_newest_load_id
        from {{ relation }}
        where {{ since }}{{ latest_version_current_filter() }}
        group by {{ key }}
    ) as newest
        on versions.{{ key }} = newest._fh_key and versions._fh_load_id = newest._fh_newest_load_id
    where {{ since }}{{ latest_version_current_filter('versions') }}
{% endmacro %}

{#- Rows of a streamed load that a later change of the same key in that load replaced (see above). -#}
{% macro latest_version_current_filter(alias=none) %}
    {{- return(adapter.dispatch('latest_version_current_filter')(alias)) -}}
{% endmacro %}

{% macro default__latest_version_current_filter(alias) %}{% endmacro %}

{% macro duckdb__latest_version_current_filter(alias) -%}
    {{ ' and ' }}{{ alias ~ '.' if alias else '' }}_fh_superseded is not true
{%- endmacro %}
