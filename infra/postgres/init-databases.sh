#!/usr/bin/env bash
# First start of the PostgreSQL container (/docker-entrypoint-initdb.d): the Prefect database and the
# swx database, each owned by its own login role, and the dashboard's login role (read access is
# granted by `entrypoint.sh migrate` once the tables exist, and for later tables by default privileges).
# Also runnable against any server as its superuser (the tests do: PGHOST/PGUSER from the environment).
set -euo pipefail
: "${PREFECT_DB_PASSWORD:?}" "${SWX_DB_PASSWORD:?}" "${SWX_READONLY_PASSWORD:?}"
PREFECT_DB="${PREFECT_DB:-prefect}"
SWX_DB="${SWX_DB:-swx}"
SWX_DB_USER="${SWX_DB_USER:-swx}"
SWX_READONLY_ROLE="${SWX_READONLY_ROLE:-swx_dashboard}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname "${POSTGRES_DB:-${PGDATABASE:-postgres}}" \
    -v prefect_db="$PREFECT_DB" -v prefect_pw="$PREFECT_DB_PASSWORD" \
    -v swx_db="$SWX_DB" -v swx_user="$SWX_DB_USER" -v swx_pw="$SWX_DB_PASSWORD" \
    -v ro_role="$SWX_READONLY_ROLE" -v ro_pw="$SWX_READONLY_PASSWORD" <<'SQL'
CREATE ROLE :"prefect_db" LOGIN PASSWORD :'prefect_pw';
CREATE DATABASE :"prefect_db" OWNER :"prefect_db";
CREATE ROLE :"swx_user" LOGIN PASSWORD :'swx_pw';
CREATE DATABASE :"swx_db" OWNER :"swx_user";
CREATE ROLE :"ro_role" LOGIN PASSWORD :'ro_pw';
REVOKE ALL ON DATABASE :"swx_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"swx_db" TO :"swx_user", :"ro_role";
SQL
# PostgreSQL 15+: the public schema belongs to the database owner's control; let the app role create there
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname "$SWX_DB" \
    -v swx_user="$SWX_DB_USER" <<'SQL'
ALTER SCHEMA public OWNER TO :"swx_user";
SQL
echo "init-databases: $PREFECT_DB (owner $PREFECT_DB), $SWX_DB (owner $SWX_DB_USER), login role $SWX_READONLY_ROLE"
