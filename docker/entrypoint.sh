#!/bin/sh
# Container entrypoint. `serve` (the default) brings the auth database to the latest migration
# and then runs gunicorn; any other command runs as given, e.g.
#   docker compose -f compose.dev.yml exec console flask --app console check
set -eu

if [ "${1:-serve}" = "serve" ]; then
    flask --app console db upgrade
    exec gunicorn --config /app/docker/gunicorn.conf.py console.wsgi:app
fi
exec "$@"
