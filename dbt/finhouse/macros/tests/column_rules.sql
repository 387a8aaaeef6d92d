{#- Generic test on a model or source table: the rules of its columns, checked in one pass.

    not_null: [column, ...]                     the column is never null
    ranges: {column: {min_value: 0, max_value: 1, inclusive: true}, ...}
                                                every non-null value lies in the range (either bound
                                                optional; `inclusive: false` makes them strict)
    accepted_values: {column: [value, ...], ...}
                                                every non-null value is one of these

    One test per model rather than one per column and rule: each test is a dbt node, and a node costs
    dbt far more than the column's scan costs the warehouse (bench/transform/README.md). A failure
    returns a row per broken rule — the column, the rule and how many rows break it — and the test's
    count is the number of rows that break a rule (a row breaking two rules counts twice). The keys keep
    dbt's own unique and not_null tests. -#}
{% test column_rules(model, not_null=[], ranges={}, accepted_values={}) %}
{%- set rules = [] -%}
{%- for column in not_null -%}
  {%- do rules.append((column, 'not null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
  {%- if bounds.get('min_value') is none and bounds.get('max_value') is none -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": the range of " ~ column
                                       ~ " needs min_value, max_value or both") }}
  {%- endif -%}
  {%- set inclusive = bounds.get('inclusive', true) -%}
  {%- set broken = [] -%}
  {%- if bounds.get('min_value') is not none -%}
    {%- do broken.append(column ~ (' < ' if inclusive else ' <= ') ~ bounds['min_value']) -%}
  {%- endif -%}
  {%- if bounds.get('max_value') is not none -%}
    {%- do broken.append(column ~ (' > ' if inclusive else ' >= ') ~ bounds['max_value']) -%}
  {%- endif -%}
  {%- set described = ('in [' if inclusive else 'in (') ~ bounds.get('min_value', '-inf') ~ ', '
                      ~ bounds.get('max_value', 'inf') ~ (']' if inclusive else ')') -%}
  {%- do rules.append((column, described, broken | join(' or '))) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set quoted = [] -%}
  {%- for value in values -%}{%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}{%- endfor -%}
  {%- do rules.append((column, 'one of ' ~ values | join(', '), column ~ ' not in (' ~ quoted | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- if not rules -%}
  {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rule given (not_null, ranges or accepted_values)") }}
{%- endif -%}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
with counted as (
    select
    {%- for column, rule, broken in rules %}
        sum(case when {{ broken }} then 1 else 0 end) as broken_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{%- for column, rule, broken in rules %}
select '{{ column }}' as column_name, '{{ rule | replace("'", "''") }}' as rule, broken_{{ loop.index }} as failing_rows
from counted where broken_{{ loop.index }} > 0
{{ 'union all' if not loop.last }}
{%- endfor %}
{% endtest %}
