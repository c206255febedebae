-- The EHRbase 2.x database: the superuser part of EHRbase's own createdb.sql, with two roles.
-- Run as the bootstrap superuser with psql variables ehrbase_db, owner_user, owner_password,
-- app_user and app_password.
--   owner_user owns the ehr and ext schemas; EHRbase runs its Flyway migrations with it
--              (DB_USER_ADMIN / DB_PASS_ADMIN).
--   app_user   is the restricted role EHRbase serves requests with (DB_USER / DB_PASS): it reads
--              and writes rows in the owner's tables and cannot change the schema.
-- Flyway creates the tables; only what needs a superuser is done here.
\set ON_ERROR_STOP on

CREATE ROLE :"owner_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'owner_password';
CREATE ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'app_password';
CREATE DATABASE :"ehrbase_db" WITH OWNER :"owner_user" ENCODING 'UTF8' LOCALE 'C'
    TEMPLATE template0;
REVOKE ALL ON DATABASE :"ehrbase_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"ehrbase_db" TO :"app_user";

\connect :"ehrbase_db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS ehr AUTHORIZATION :"owner_user";
GRANT USAGE ON SCHEMA ehr TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_user" IN SCHEMA ehr
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
-- USAGE as well as SELECT, so inserts into tables with sequence-backed columns work too.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_user" IN SCHEMA ehr
    GRANT USAGE, SELECT ON SEQUENCES TO :"app_user";

CREATE SCHEMA IF NOT EXISTS ext AUTHORIZATION :"owner_user";
GRANT USAGE ON SCHEMA ext TO :"app_user";
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" SCHEMA ext;

-- EHRbase finds its extension functions through the search path and expects ISO 8601 intervals.
ALTER DATABASE :"ehrbase_db" SET search_path TO ext;
ALTER DATABASE :"ehrbase_db" SET intervalstyle = 'iso_8601';

-- EHRbase's AQL planner relies on this row estimate.
ALTER FUNCTION jsonb_path_query(jsonb, jsonpath, jsonb, boolean) ROWS 1;
