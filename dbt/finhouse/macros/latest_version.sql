{#- The latest version of every key of a raw table (fhload's RAW layer is append-only and holds
    duplicates from incremental overlap): the row of the newest load, then the newest cursor value.
    Keeps `_fh_op` so the staging model can flag deletes; the caller renames and casts.

    In an incremental staging model (macro staged_incrementally) only the raw rows loaded after the
    newest load the model already holds are read: a key's newest version is then among them whenever
    the key changed, and delete+insert on the key replaces the stored version. -#}
{% macro latest_version(relation, key='id', cursor='updated_at') %}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by _fh_loaded_at desc, _fh_load_id desc, {{ cursor }} desc nulls last
            ) as _fh_version_rank
        from {{ relation }}
        {%- if is_incremental() %}
        where _fh_loaded_at > (select coalesce(max(loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
        {%- endif %}
    ) as versions
    where _fh_version_rank = 1
{% endmacro %}
