{#- Schemas are exactly staging / intermediate / marts (STAGING / … on Snowflake), whatever the target's
    default schema: the layer's +schema is used as is, never prefixed with the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif target.type == 'snowflake' -%}
        {{ custom_schema_name | trim | upper }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
