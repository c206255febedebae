#!/bin/sh
# First start of an empty data directory (official postgres image): create the service's
# database and role from APP_DB_NAME, APP_DB_USER and APP_DB_PASSWORD, then lock down the
# bootstrap superuser (see lock-superuser.sql).
# The SQL folder is /quill-sql (mounted by compose.dev.yml) unless QUILL_SQL_DIR names another;
# psql reaches the server through the usual PGHOST/PGPORT variables.
set -eu
: "${APP_DB_NAME:?APP_DB_NAME must be set}"
: "${APP_DB_USER:?APP_DB_USER must be set}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set}"

psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set app_db="$APP_DB_NAME" --set app_user="$APP_DB_USER" \
    --set app_password="$APP_DB_PASSWORD" \
    --file "${QUILL_SQL_DIR:-/quill-sql}/app-db.sql"
psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set superuser="$POSTGRES_USER" --file "${QUILL_SQL_DIR:-/quill-sql}/lock-superuser.sql"
