-- National ID and phone never reach a mart unmasked: no mart column is named after them unless it is a
-- masked one, and no masked value equals (or contains) the customer's clear national ID or phone.
with pii_columns as (
    select table_name || '.' || column_name as problem
    from {{ target.database ~ '.' if target.type == 'snowflake' }}information_schema.columns
    where lower(table_schema) = 'marts' and lower(table_catalog) = lower('{{ target.database }}')
      and (lower(column_name) like '%national_id%' or lower(column_name) like '%phone%')
      and lower(column_name) not like '%_masked'
),

customers as (
    select customer_id, national_id, phone from {{ ref('stg_oltp__customers') }} where customer_number is not null
),

leaked_values as (
    select 'dim_customers.' || cast(dim.customer_id as {{ dbt.type_string() }}) as problem
    from {{ ref('dim_customers') }} as dim
    inner join customers on customers.customer_id = dim.customer_id
    where dim.national_id_masked = customers.national_id
       or dim.phone_masked = customers.phone
       or {{ dbt.position('customers.national_id', 'dim.national_id_masked') }} > 0
       or {{ dbt.position('customers.phone', 'dim.phone_masked') }} > 0
)

select problem from pii_columns
union all
select problem from leaked_values
