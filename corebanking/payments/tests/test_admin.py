"""The staff admin of payments: every page renders for a superuser."""

from __future__ import annotations

import pytest

from core.admin_testing import assert_admin_pages_render, build_world, registered_models


@pytest.fixture
def world(branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    return build_world(branch=branch, officer=officer, make_customer=make_customer, make_account=make_account,
                       make_loan=make_loan, fd_product=fd_product, day0=day0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models("payments"), ids=lambda m: m.__name__)
def test_admin_pages_render(admin_client, world, model):
    assert_admin_pages_render(admin_client, model)
