{#- Personal data (PII) in the warehouse, from its one declaration: `config: {meta: {pii: <kind>}}` on the
    columns of the `oltp` source (models/staging/oltp/_oltp__sources.yml). Staging keeps a declared
    column's name; nothing downstream of staging may carry one (tests/privacy/assert_no_pii_in_marts.sql).

    pii_columns()            [{table, column, kind}] declared (kind `none` — looked at, not personal — left
                             out); empty at parse time, when dbt's graph is not yet filled
    pii_name_patterns()      SQL LIKE patterns a column name must not match downstream of staging
    pii_masking_statements(relation, table, relation_type)
                             the Snowflake ALTER … SET MASKING POLICY statement for the declared columns of
                             source table `table` as carried by `relation` (a view or a table)
    pii_masking_hook()       post-hook of every staging model: on Snowflake, that statement for the model
                             (`this`); nothing on DuckDB, which has no masking policies (its marts carry no
                             PII at all and dashboards read only the marts); on the fakesnow emulator the
                             statement is logged, not run, because the emulator has no masking policies
                             (macros/emulator/pii_masking.sql) -#}

{% macro pii_columns() -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() if node.source_name == 'oltp' -%}
            {%- for column in node.columns.values() -%}
                {%- set kind = (column.config.meta if column.config is defined and column.config.meta
                                else column.meta).get('pii') -%}
                {%- if kind and kind != 'none' -%}
                    {%- if kind not in var('pii_masking_policies') -%}
                        {{ exceptions.raise_compiler_error("source oltp." ~ node.name ~ "." ~ column.name
                           ~ ": unknown pii kind " ~ kind ~ " (dbt_project.yml vars.pii_masking_policies)") }}
                    {%- endif -%}
                    {%- do found.append({'table': node.name, 'column': column.name | lower, 'kind': kind}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}

{% macro pii_name_patterns() -%}
    {#- every declared name, and what the same data is usually called once renamed -#}
    {%- set by_kind = {'name': ['%first_name%', '%last_name%', '%full_name%', '%surname%'],
                       'date_of_birth': ['%birth%', 'dob'],
                       'national_id': ['%national_id%', '%id_number%', '%passport%'],
                       'phone': ['%phone%', '%msisdn%', '%mobile%'],
                       'contact': ['%msisdn%', '%email%']} -%}
    {%- set patterns = [] -%}
    {%- for c in pii_columns() -%}
        {%- for p in [c.column] + by_kind.get(c.kind, []) if p not in patterns -%}
            {%- do patterns.append(p) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(patterns) }}
{%- endmacro %}

{% macro pii_masking_statements(relation, table, relation_type, present=none) -%}
    {#- present: the relation's column names (lower case); a declared column that staging leaves out
        (the audit trail's object_repr and changes, say) gets no policy, as there is nothing to mask -#}
    {%- set columns = pii_columns() | selectattr('table', 'equalto', table) | list -%}
    {%- if present is not none -%}
        {%- set columns = columns | selectattr('column', 'in', present) | list -%}
    {%- endif -%}
    {%- if not columns -%}{{ return('') }}{%- endif -%}
    {%- set policies = var('pii_masking_policies') -%}
    {%- set clauses = [] -%}
    {%- for c in columns -%}
        {#- FORCE: replace whatever policy the column had, so a rerun or a changed kind converges -#}
        {%- do clauses.append('column ' ~ c.column ~ ' set masking policy ' ~ var('pii_masking_policy_schema')
                              ~ '.' ~ policies[c.kind] ~ ' force') -%}
    {%- endfor -%}
    {{ return('alter ' ~ relation_type ~ ' ' ~ relation ~ ' modify ' ~ clauses | join(', ')) }}
{%- endmacro %}

{% macro pii_masking_hook() -%}
    {%- if target.type != 'snowflake' or not execute -%}{{ return('') }}{%- endif -%}
    {%- set table = this.identifier | lower | replace('stg_oltp__', '', 1) -%}
    {%- set relation_type = 'view' if model.config.materialized == 'view' else 'table' -%}
    {#- the emulator has no masking policies: macros/emulator/pii_masking.sql logs the statement instead -#}
    {%- if target.name == 'fakesnow' -%}{{ return(emulator_pii_masking_hook(table, relation_type)) }}{%- endif -%}
    {%- set present = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(pii_masking_statements(this, table, relation_type, present)) }}
{%- endmacro %}

{#- `dbt run-operation pii_masking_plan [--args '{database: ANALYTICS}']`: print, one a line, the statement
    the post-hook runs on Snowflake for each staging model, whatever the target (nothing is connected to or
    run): what tests/test_pii_declaration.py checks, and what a reviewer reads. -#}
{% macro pii_masking_plan(database='ANALYTICS') -%}
    {%- for node in graph.nodes.values() | sort(attribute='name')
            if node.resource_type == 'model' and node.name.startswith('stg_oltp__') -%}
        {%- set relation = database ~ '.STAGING.' ~ node.name | upper -%}
        {%- set relation_type = 'view' if node.config.materialized == 'view' else 'table' -%}
        {%- set sql = pii_masking_statements(relation, node.name.replace('stg_oltp__', '', 1), relation_type) -%}
        {%- if sql -%}{{ print(sql) }}{%- endif -%}
    {%- endfor -%}
{%- endmacro %}
