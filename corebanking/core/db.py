"""Small database helpers the services share: row locks and numbers derived from primary keys."""

from django.db import connection, models


def next_id(model: type[models.Model]) -> int:
    """Draw the next primary key of `model`'s table from its identity sequence, so that a row's number
    (SA00000042, LN00000042) can be derived from its id before the row is inserted (unique because the
    id is)."""
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [model._meta.db_table])
        return cur.fetchone()[0]


def lock(instance: models.Model) -> models.Model:
    """Take `instance`'s row lock (SELECT … FOR UPDATE, held to the end of the transaction) and reload
    it, so the service decides on the latest committed values. Sees soft-deleted rows too."""
    instance.refresh_from_db(from_queryset=type(instance)._base_manager.select_for_update())
    return instance
