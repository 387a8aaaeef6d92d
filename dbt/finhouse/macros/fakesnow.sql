{#- The fakesnow emulator (target `fakesnow`, tests only) refuses `CREATE TEMPORARY TABLE db.schema.x`, which
    dbt-snowflake issues for an incremental model's and a snapshot's staging relation: there, such a table is
    created as a plain table instead. Every other target gets dbt-snowflake's own macro unchanged. -#}
{% macro snowflake__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- if target.name == 'fakesnow' and temporary -%}
        {{ dbt.snowflake__create_table_as(false, relation, compiled_code, language) }}
    {%- else -%}
        {{ dbt.snowflake__create_table_as(temporary, relation, compiled_code, language) }}
    {%- endif -%}
{%- endmacro %}
