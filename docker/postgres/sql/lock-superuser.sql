-- After the service's roles exist: the bootstrap superuser keeps no password, so it can only be
-- used from inside the database container over the local socket
-- (`docker compose exec postgres-auth psql -U postgres`), never over the network. The maintenance
-- databases are closed to every other role.
\set ON_ERROR_STOP on

ALTER ROLE :"superuser" WITH PASSWORD NULL;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON DATABASE template1 FROM PUBLIC;
