"""Seed the chart of accounts and the savings transaction types (idempotent: update_or_create)."""

from django.db import migrations


def seed(apps, schema_editor):
    from ledger.chart import ACCOUNTS
    from ledger.types import TRANSACTION_TYPES

    GLAccount = apps.get_model("ledger", "GLAccount")
    TransactionType = apps.get_model("ledger", "TransactionType")
    for account in ACCOUNTS:
        GLAccount.objects.update_or_create(code=account.code, defaults={"name": account.name, "type": account.type})
    for code, (name, direction) in TRANSACTION_TYPES.items():
        TransactionType.objects.update_or_create(code=code, defaults={"name": name, "direction": direction})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
