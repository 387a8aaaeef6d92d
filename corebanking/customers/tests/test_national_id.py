"""A national ID registered to another customer is refused without saying so, in the admin as in the
service and the API (corebanking/api/tests/test_api.py): no holder, no "already exists", no server error."""

from __future__ import annotations

import pytest

from core.admin_testing import admin_url
from customers.models import Customer
from customers.services import NATIONAL_ID_REFUSED, customer_delete


def _form(customer: Customer, **changes) -> dict:
    fields = ["first_name", "last_name", "gender", "date_of_birth", "business_sector", "national_id", "phone",
              "kyc_status", "status", "joined_on"]
    data = {f: getattr(customer, f) for f in fields}
    data.update(branch=customer.branch_id, loan_officer=customer.loan_officer_id or "")
    for prefix in ("loans", "savings_accounts", "investments", "memberships"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return {**data, **changes}


@pytest.mark.django_db
@pytest.mark.parametrize("holder_deleted", [False, True], ids=["active holder", "deleted holder"])
def test_admin_edit_to_another_customers_national_id_is_refused_generically(admin_client, make_customer,
                                                                            holder_deleted):
    holder, other = make_customer(), make_customer()
    if holder_deleted:
        customer_delete(customer=holder)
    response = admin_client.post(admin_url(Customer, "change", other.pk),
                                 _form(other, national_id=holder.national_id))
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert NATIONAL_ID_REFUSED in page and "already exists" not in page
    assert holder.customer_number not in page
    other.refresh_from_db()
    assert other.national_id != holder.national_id
