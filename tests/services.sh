#!/bin/sh
# Make sure the server programs the integration tests start for real are installed:
# PostgreSQL (ontolab.testing.PostgresServer, a throwaway cluster), Prometheus (scrapes
# `ontolab serve`) and Chromium (Playwright drives it headless through JupyterLab; it never
# downloads a browser of its own). Silent when they are already there; on Debian or Ubuntu,
# installs what is missing with one apt-get update and one apt-get install, as root or
# through sudo; otherwise says what to do.
set -eu

have_initdb() {
	command -v initdb >/dev/null 2>&1 && return 0
	for bin in /usr/lib/postgresql/*/bin; do
		[ -x "$bin/initdb" ] && return 0
	done
	return 1
}

have_prometheus() {
	command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
}

have_chromium() {
	command -v chromium >/dev/null 2>&1
}

missing=""
have_initdb || missing="$missing postgresql"
have_prometheus || missing="$missing prometheus"
have_chromium || missing="$missing chromium"
[ -z "$missing" ] && exit 0

fail() {
	echo "services: $1" >&2
	echo "services: install the Debian/Ubuntu packages:$missing (apt-get install$missing)," \
		"so that initdb (or /usr/lib/postgresql/*/bin/initdb), prometheus, promtool and" \
		"chromium exist, then rerun make test" >&2
	exit 1
}

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	fail "missing:$missing, and installing needs root or sudo"
fi
command -v apt-get >/dev/null 2>&1 || fail "missing:$missing, and there is no apt-get here"

echo "services: installing$missing for the integration tests"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
	fail "apt-get update failed"
# shellcheck disable=SC2086  # one word per package
$as_root env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	fail "apt-get install$missing failed"
have_initdb || fail "apt-get installed postgresql, but initdb is still missing"
have_prometheus || fail "apt-get installed prometheus, but prometheus or promtool is missing"
have_chromium || fail "apt-get installed chromium, but chromium is still missing"
# The package's own service is not ours: tests start their own server on a free port.
if command -v pkill >/dev/null 2>&1; then
	$as_root pkill -x prometheus 2>/dev/null || true
fi
exit 0
