{#- The latest version of every key of a raw table (fhload's RAW layer is append-only and holds
    duplicates from incremental overlap): the row of the newest load, then the newest cursor value.
    Keeps `_fh_op` so the staging model can flag deletes; the caller renames and casts. -#}
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
    ) as versions
    where _fh_version_rank = 1
{% endmacro %}
