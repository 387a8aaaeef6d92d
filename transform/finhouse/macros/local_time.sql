{#- Instants in the institution's own time zone (var institution_time_zone, by default FINHOUSE_TIME_ZONE,
    the backend's setting): a timestamp without zone, the wall-clock time at the institution, for "after
    hours" and for the local day. DuckDB's timezone() and Snowflake's convert_timezone() both take a
    TIMESTAMP WITH TIME ZONE (what fhload loads timestamptz as). -#}
{% macro local_timestamp(column) -%}
    {%- set tz = var('institution_time_zone') | replace("'", "") -%}
    {%- if target.type == 'snowflake' -%}
        cast(convert_timezone('{{ tz }}', {{ column }}) as timestamp_ntz)
    {%- else -%}
        timezone('{{ tz }}', {{ column }})
    {%- endif -%}
{%- endmacro %}

{#- ISO day of the week of a timestamp: 1 = Monday … 7 = Sunday. -#}
{% macro iso_day_of_week(column) -%}
    {%- if target.type == 'snowflake' -%}
        dayofweekiso({{ column }})
    {%- else -%}
        isodow({{ column }})
    {%- endif -%}
{%- endmacro %}
