# shellcheck shell=bash
# PostgreSQL on 127.0.0.1:5432 for scripts/test and scripts/replicas (sourced, not run).
#
#   source scripts/lib/postgres.sh
#   ensure_postgres          # sets PG_URL to a URL of the postgres user's database that works
#
# When nothing answers there, it starts the local cluster, or installs PostgreSQL with
# apt-get (as root) first. A fresh Debian cluster wants a password over TCP: the postgres
# user is given the password `postgres` then.

# Runs "$@" as root: directly, or through sudo without a password; fails saying why.
as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    echo "${0##*/}: need root to run: $*" >&2; return 1; fi
}

# Whether root is at hand (we are root, or sudo works without a password).
can_be_root() {
  [[ "$(id -u)" == 0 ]] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)"
  if [[ -z "$version" ]]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    as_root pg_createcluster "$version" main
  fi
  echo "== starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_answers && return 0; sleep 0.5; done
  echo "${0##*/}: PostgreSQL did not start on 127.0.0.1:5432" >&2
  return 1
}

# Starts PostgreSQL when needed and sets PG_URL (default: the postgres user, trust auth).
ensure_postgres() {
  PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  { command -v pg_isready >/dev/null 2>&1 && pg_answers; } || start_postgres
  if ! psql "$PG_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    PG_URL="postgres://postgres:postgres@127.0.0.1:5432/postgres"
    psql "$PG_URL" -qtAc 'SELECT 1' >/dev/null
  fi
}
