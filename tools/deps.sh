#!/bin/sh
# Install the Debian 12 packages hsd needs, only those that are missing.
#
#   tools/deps.sh          build and run
#   tools/deps.sh test     also what make check needs
#   tools/deps.sh bench    also what bench/bench.sh needs
#
# Quiet when everything is there, so CI can run it every time.

build="build-essential autoconf automake pkg-config libevent-dev
	libhttp-parser-dev libconfuse-dev libseccomp-dev check"
test="curl wrk python3 util-linux gdb goaccess strace php-cgi php-fpm"
bench="nginx-light nghttp2-client slowhttptest"

case "${1:-}" in
"")	want="$build" ;;
test)	want="$build $test" ;;
bench)	want="$build $test $bench" ;;
*)	echo "usage: $0 [test | bench]" >&2
	exit 2 ;;
esac

missing=
for pkg in $want; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)
	case "$status" in
	ii*)	;;
	*)	missing="$missing $pkg" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "$0: missing packages:$missing" >&2
	echo "$0: run as root to install them" >&2
	exit 1
fi

echo "$0: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || exit 1
# $missing is a list of package names: split it on purpose.
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || exit 1
