{#- THE TESTS OF A `dbt build` READ ONLY THE ROWS THAT BUILD WROTE, on the incremental models (a project-wide
    override of dbt's get_where_subquery; transform/finhouse/README.md, first section, says it to every reader).

    Why: a test of an incremental model re-reading its ten million stored rows on every load costs more than
    the load; the stored rows were tested when they were written and an incremental run does not change them.

    Which tests: the generic tests (column_rules) of a model materialized `incremental` that has a
    `transformed_at` column, run by `dbt build` without --full-refresh; and, explicitly, the per-entry check of
    tests/reconciliation/assert_gl_debits_equal_credits.sql (fh_scoped_to_this_build). Singular tests, unit
    tests, tests of views and tables, `dbt test`, and any --full-refresh build read every row.

    Limits: a unique key is checked among the rows written (delete+insert replaces a key's stored row, so a
    key cannot be stored twice); a reference (relationships) is checked for the rows written, and stored rows
    are not checked again against a parent table that changed since; a rule added to a model's tests holds for the stored rows only once
    they are all tested: run `make dbt-test` (dbt test alone, every row) or a --full-refresh build. -#}

{#- dbt's hook for the relation a generic test reads (`where` config included). In `dbt build`, a
    test of an incremental model that records `transformed_at` reads only the rows this invocation wrote:
    the others were tested when they were written and have not changed since (delete+insert replaces a
    changed key's row, so a key cannot appear twice either). On the first build or a --full-refresh every
    row was written now, so every row is tested; `dbt test` on its own always tests every row. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set scoped = fh_scoped_to_this_build(relation) -%}
    {%- if where or scoped -%}
        {%- set conditions = [] -%}
        {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
        {%- if scoped -%}{%- do conditions.append('transformed_at = ' ~ transformed_at()) -%}{%- endif -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- True when a test of `relation` reads only the rows this invocation wrote: in a `dbt build` that is not
    a --full-refresh (which writes, and so tests, every row), of an incremental model of this project with
    a `transformed_at` column. -#}
{% macro fh_scoped_to_this_build(relation) -%}
    {{ return(flags.WHICH == 'build' and not flags.FULL_REFRESH and fh_records_transformed_at(relation)) }}
{%- endmacro %}

{#- True when `relation` is an incremental model of this project with a `transformed_at` column. The model
    is looked up by name (this project's models keep their name as the table's), not by a loop over the
    graph: this runs for every test of the build, and a loop over the ~500 nodes in Jinja cost seconds. -#}
{% macro fh_records_transformed_at(relation) -%}
    {%- if not execute or relation.identifier is none -%}{{ return(false) }}{%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ (relation.identifier | lower)) -%}
    {{ return(node is not none
              and node.config.materialized == 'incremental'
              and 'transformed_at' in node.columns
              and node.schema | lower == (relation.schema or '') | lower) }}
{%- endmacro %}
