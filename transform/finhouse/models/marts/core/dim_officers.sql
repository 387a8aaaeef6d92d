-- One row per staff member (loan officers, branch managers, tellers): loans and customers point at their
-- loan officer here. Names live in Django's auth tables, which are not loaded: the employee number names them.
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
)

select
    staff.staff_id as officer_id,
    staff.employee_number,
    staff.staff_role,
    staff.staff_role = 'loan_officer' as is_loan_officer,
    staff.branch_id,
    staff.hired_on,
    staff.left_on,
    (staff.hired_on <= as_of.as_of_date and (staff.left_on is null or staff.left_on > as_of.as_of_date)) as is_active
from {{ ref('stg_oltp__staff') }} as staff
cross join as_of
where not staff.is_deleted
