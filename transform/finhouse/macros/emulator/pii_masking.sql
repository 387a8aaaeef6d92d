{#- The fakesnow emulator's stand-in for the masking-policy post-hook (macros/pii.sql, pii_masking_hook).

    Why: fakesnow has no masking policies and fails on `ALTER … SET MASKING POLICY`, so on target
    `fakesnow` the statement the hook would run is logged instead (tests/test_dbt_fakesnow.py reads the log
    to check which columns would be masked). Returns the SQL to run: none. -#}
{% macro emulator_pii_masking_hook(table, relation_type) -%}
    {%- set sql = pii_masking_statements(this, table, relation_type) -%}
    {%- if sql -%}{%- do log('pii masking (not run on the fakesnow emulator): ' ~ sql, info=True) -%}{%- endif -%}
    {{ return('') }}
{%- endmacro %}
