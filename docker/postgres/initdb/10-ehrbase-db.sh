#!/bin/sh
# First start of an empty data directory (official postgres image): create the EHRbase
# database, its schema-owner role and its restricted runtime role, then lock down the bootstrap
# superuser (see lock-superuser.sql).
# The SQL folder is /quill-sql (mounted by compose.dev.yml) unless QUILL_SQL_DIR names another;
# psql reaches the server through the usual PGHOST/PGPORT variables.
set -eu
: "${EHRBASE_DB_NAME:?EHRBASE_DB_NAME must be set}"
: "${EHRBASE_DB_USER:?EHRBASE_DB_USER must be set}"
: "${EHRBASE_DB_PASSWORD:?EHRBASE_DB_PASSWORD must be set}"
: "${EHRBASE_DB_OWNER_USER:?EHRBASE_DB_OWNER_USER must be set}"
: "${EHRBASE_DB_OWNER_PASSWORD:?EHRBASE_DB_OWNER_PASSWORD must be set}"

psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set ehrbase_db="$EHRBASE_DB_NAME" \
    --set owner_user="$EHRBASE_DB_OWNER_USER" --set owner_password="$EHRBASE_DB_OWNER_PASSWORD" \
    --set app_user="$EHRBASE_DB_USER" --set app_password="$EHRBASE_DB_PASSWORD" \
    --file "${QUILL_SQL_DIR:-/quill-sql}/ehrbase-db.sql"
psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set superuser="$POSTGRES_USER" --file "${QUILL_SQL_DIR:-/quill-sql}/lock-superuser.sql"
