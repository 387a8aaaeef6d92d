"""Permissions are now read from access.policy on every request (django-rules); the Django groups that
customers.roles used to keep in step with the roles would still grant their old model permissions, so
they are removed."""

from django.db import migrations

OLD_ROLE_GROUPS = ("Tellers", "Loan officers", "Branch managers")


def retire(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=OLD_ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]
