#!/bin/bash
# Slow clients against hsd and nginx, side by side (bench/servers.sh starts
# both on the same files): slowhttptest holds CONNS connections open in one
# of its modes while a probe fetches 1k.txt on a fresh connection every
# 200 ms, and the table shows, per server, how many probes failed (no 200
# within 5 s) and the median and slowest probe time.  A server that slow
# clients cannot hurt answers every probe in milliseconds.  Not a test: it
# asserts nothing.
#
#   HSD_BUILDDIR=/tmp/build bench/slow.sh
#
# Modes: -X slow read (a small receive window, reading a few bytes at a
# time: the server must send what would block for it), -B slow body (a
# POST body a few bytes every ATTACK_INTERVAL seconds), -H slow headers
# (slowloris).  Environment: DURATION (seconds per attack, 20), CONNS
# (500), MODES ("X B H"), and what bench/servers.sh reads.

DURATION=${DURATION:-20}
CONNS=${CONNS:-500}
MODES=${MODES:-X B H}

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

command -v slowhttptest >/dev/null ||
	die "slowhttptest not found (sh tools/deps.sh bench)"
start_servers
# The slow readers ask for something larger than socket buffers hold.
head -c 4194304 /dev/urandom >"$tmp/www/4m.bin"

# One attack on one server, probed; prints "failed/probes median max".
attack() {
	local mode=$1 port=$2 args probes=0 failed=0 t code out
	case $mode in
	X)	args="-X -w 512 -y 1024 -n 5 -z 32 -k 3
		    -u http://127.0.0.1:$port/4m.bin" ;;
	B)	args="-B -i 2 -s 8192 -u http://127.0.0.1:$port/1k.txt" ;;
	H)	args="-H -i 2 -u http://127.0.0.1:$port/1k.txt" ;;
	esac
	# shellcheck disable=SC2086 # $args is a list of options
	slowhttptest $args -c "$CONNS" -r 200 -p 5 -l "$((DURATION + 5))" \
	    >"$tmp/slowhttptest.$mode.$port" 2>&1 &
	local sp=$!
	sleep 5		# let it open its connections
	: >"$tmp/probe"
	local end=$((SECONDS + DURATION))
	while [ "$SECONDS" -lt "$end" ]; do
		out=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' \
		    "http://127.0.0.1:$port/1k.txt")
		code=${out%% *} t=${out#* }
		probes=$((probes + 1))
		[ "$code" = 200 ] || failed=$((failed + 1))
		echo "$t" >>"$tmp/probe"
		sleep 0.2
	done
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	printf '%s/%s %s %s\n' "$failed" "$probes" \
	    "$(awk '{ print $1 * 1000 }' "$tmp/probe" | median)" \
	    "$(sort -n "$tmp/probe" | tail -1 | awk '{ printf "%.0f", $1 * 1000 }')"
	sleep 2		# let the server close what the attack left
}

echo "slowhttptest, $CONNS connections, ${DURATION}s probed: failed/probes, median and max probe ms"
printf '%-14s %-22s %-22s\n' mode nginx hsd
for m in $MODES; do
	n=$(attack "$m" "$NGINX_PORT")
	h=-
	[ -n "$hsd_pid" ] && h=$(attack "$m" "$HSD_PORT")
	case $m in X) name="slow read" ;; B) name="slow body" ;; H) name="slow headers" ;; esac
	printf '%-14s %-22s %-22s\n' "$name" "$n" "$h"
done
exit 0
