-- One service's database and its own login role (PostgreSQL for the console or HAPI FHIR).
-- Run as the bootstrap superuser with psql variables app_db, app_user and app_password.
-- The role may log in and owns its database; it cannot create roles or databases, and no
-- other role (PUBLIC) may connect to the database.
\set ON_ERROR_STOP on

CREATE ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'app_password';
CREATE DATABASE :"app_db" WITH OWNER :"app_user" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;

\connect :"app_db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO :"app_user";
