"""auditlog's own migrations still create its default table, auditlog_logentry, although finhouse's
entries go to audit_log (AUDITLOG_LOGENTRY_MODEL). That table stays empty, and Django no longer knows it
as a model, so a flush (the tests' TRUNCATE of every known table) fails on its foreign keys to
django_content_type and auth_user. Drop those keys: the table holds nothing they could protect."""

from django.db import migrations

DROP_FOREIGN_KEYS = """
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = to_regclass('auditlog_logentry') AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE auditlog_logentry DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_log"), ("auditlog", "0017_add_actor_email")]
    operations = [migrations.RunSQL(DROP_FOREIGN_KEYS, migrations.RunSQL.noop)]
