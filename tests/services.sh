#!/bin/sh
# Make sure the PostgreSQL server programs exist: integration tests start their own throwaway
# server (ontolab.testing.PostgresServer). Silent when they are already installed; on Debian
# or Ubuntu, installs them with apt-get as root or through sudo; otherwise says what to do.
set -eu

have_initdb() {
	command -v initdb >/dev/null 2>&1 && return 0
	for bin in /usr/lib/postgresql/*/bin; do
		[ -x "$bin/initdb" ] && return 0
	done
	return 1
}

have_initdb && exit 0

fail() {
	echo "services: $1" >&2
	echo "services: install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql)" \
		"so that initdb is on PATH or in /usr/lib/postgresql/*/bin, then rerun make test" >&2
	exit 1
}

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	fail "PostgreSQL is missing, and installing it needs root or sudo"
fi
command -v apt-get >/dev/null 2>&1 || fail "PostgreSQL is missing, and there is no apt-get here"

echo "services: installing PostgreSQL for the integration tests (apt-get install postgresql)"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
	fail "apt-get update failed"
$as_root env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
	fail "apt-get install postgresql failed"
have_initdb || fail "apt-get installed postgresql, but initdb is still missing"
