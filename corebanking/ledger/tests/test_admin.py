"""The staff admin of ledger: every page renders for a superuser."""

from __future__ import annotations

import pytest

from core.admin_testing import assert_admin_pages_render, build_world, registered_models


@pytest.fixture
def world(branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    return build_world(branch=branch, officer=officer, make_customer=make_customer, make_account=make_account,
                       make_loan=make_loan, fd_product=fd_product, day0=day0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models("ledger"), ids=lambda m: m.__name__)
def test_admin_pages_render(admin_client, world, model):
    assert_admin_pages_render(admin_client, model)


@pytest.mark.django_db
def test_journal_entries_cannot_be_edited_or_deleted(admin_client, world):
    from core.admin_testing import admin_url
    from ledger.models import JournalEntry

    entry = JournalEntry.objects.order_by("pk").first()
    page = admin_client.get(admin_url(JournalEntry, "change", entry.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(admin_url(JournalEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert admin_client.get(admin_url(JournalEntry, "add")).status_code == 403


@pytest.mark.django_db
def test_journal_search_by_entry_number(admin_client, world):
    from core.admin_testing import admin_url
    from ledger.models import JournalEntry

    entry = JournalEntry.objects.order_by("pk").last()
    response = admin_client.get(admin_url(JournalEntry, "changelist"), {"q": str(entry.pk)})
    assert entry in response.context["cl"].result_list
