{#- Workarounds for the fakesnow emulator (target `fakesnow`, tests only: tests/test_dbt_fakesnow*.py) live
    in this folder, apart from the production macros; each is a no-op on every other target.

    Why this one: fakesnow refuses `CREATE TEMPORARY TABLE db.schema.x`, which dbt-snowflake issues for an
    incremental model's and a snapshot's staging relation. There, such a table is created as a plain table
    instead (dbt drops it after the merge all the same). Every other target gets dbt-snowflake's own macro
    unchanged. Remove it when fakesnow accepts a qualified temporary table. -#}
{% macro snowflake__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- if target.name == 'fakesnow' and temporary -%}
        {{ dbt.snowflake__create_table_as(false, relation, compiled_code, language) }}
    {%- else -%}
        {{ dbt.snowflake__create_table_as(temporary, relation, compiled_code, language) }}
    {%- endif -%}
{%- endmacro %}
