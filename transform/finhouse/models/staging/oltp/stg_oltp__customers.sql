-- customers: the latest version of each row of raw.customers, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'customers')) }}
),

renamed as (
    select
        id as customer_id,
        created_at,
        updated_at,
        deleted_at,
        customer_number,
        cast(public_id as {{ dbt.type_string() }}) as public_id,
        first_name,
        last_name,
        gender,
        date_of_birth,
        national_id,
        phone,
        kyc_status,
        status as customer_status,
        business_sector,
        joined_on,
        branch_id,
        loan_officer_id as officer_id,
        (_fh_op = 'delete' or deleted_at is not null) as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
