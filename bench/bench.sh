#!/bin/bash
# hsd against nginx, side by side in one run (bench/servers.sh starts both
# on the same files): wrk loads each in turn (alternating rounds, with one
# and with two threads, 50 keep-alive connections), and the table shows
# the median requests/s and the ratio hsd/nginx; then h2load does the same
# with 8 requests pipelined per connection (HTTP/1.1), at 8 and at 100
# connections.  Not a test: it asserts nothing (it does print any request
# that failed).
#
#   HSD_BUILDDIR=/tmp/build bench/bench.sh
#
# Environment: DURATION (seconds per run, 10), RUNS (runs per server and
# file, 3), THREADS (wrk thread counts, "1 2"), and what bench/servers.sh
# reads (HSD_BUILDDIR, ports, NGINX, SKIP_HSD, LOGGING, CACHE).

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
THREADS=${THREADS:-1 2}
FILES="1k.txt 100k.txt"

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

# Requests/s of one wrk run with $2 threads; wrk's errors go to stderr.
run_wrk() {
	local out
	out=$(wrk -t"$2" -c50 -d"${DURATION}s" "$1") || die "wrk $1 failed"
	if grep -Eq 'Socket errors|Non-2xx' <<<"$out"; then
		echo "bench.sh: $1:" >&2
		grep -E 'Socket errors|Non-2xx' <<<"$out" >&2
	fi
	awk '$1 == "Requests/sec:" { print $2 }' <<<"$out"
}

# Requests/s of one pipelined h2load run: $2 connections, 8 in flight each.
run_h2load() {
	local out
	out=$(h2load --h1 -D "$DURATION" --warm-up-time=1 -c "$2" -m 8 "$1" \
	    2>&1) || die "h2load $1 failed"
	if ! grep -q ' 0 failed, 0 errored, 0 timeout' <<<"$out" ||
	    ! grep -Eq 'status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out"
	then
		echo "bench.sh: h2load -c $2 $1:" >&2
		grep -E '^requests:|^status codes:' <<<"$out" >&2
	fi
	awk '$1 == "finished" { for (i = 1; i < NF; i++)
		if ($(i + 1) == "req/s,") print $i }' <<<"$out"
}

command -v wrk >/dev/null || die "wrk not found (sh tools/deps.sh bench)"
command -v h2load >/dev/null || die "h2load not found (sh tools/deps.sh bench)"
start_servers

echo "LOGGING=$LOGGING CACHE=$CACHE, $(nproc) cores"
echo "wrk -c50 -d${DURATION}s, $RUNS alternating runs each, median req/s"
printf '%-14s %12s %12s %10s\n' 'file, threads' nginx hsd hsd/nginx
for f in $FILES; do
	for t in $THREADS; do
		: >"$tmp/nginx.t$t.$f"
		: >"$tmp/hsd.t$t.$f"
		for _ in $(seq "$RUNS"); do
			run_wrk "http://127.0.0.1:$NGINX_PORT/$f" "$t" \
			    >>"$tmp/nginx.t$t.$f"
			[ -n "$hsd_pid" ] &&
				run_wrk "http://127.0.0.1:$HSD_PORT/$f" "$t" \
				    >>"$tmp/hsd.t$t.$f"
		done
		n=$(median <"$tmp/nginx.t$t.$f")
		h=$(median <"$tmp/hsd.t$t.$f")
		ratio=$(awk -v h="$h" -v n="$n" \
		    'BEGIN { if (h == "-" || n == 0) print "-"; else printf "%.2f", h / n }')
		printf '%-14s %12s %12s %10s\n' "$f, -t$t" "$n" "$h" "$ratio"
	done
done

echo
echo "h2load --h1 -m 8 -D ${DURATION}s (8 pipelined per connection), $RUNS runs each, median req/s"
printf '%-16s %12s %12s %10s\n' 'file, conns' nginx hsd hsd/nginx
for f in $FILES; do
	for c in 8 100; do
		: >"$tmp/nginx.p$c.$f"
		: >"$tmp/hsd.p$c.$f"
		for _ in $(seq "$RUNS"); do
			run_h2load "http://127.0.0.1:$NGINX_PORT/$f" "$c" \
			    >>"$tmp/nginx.p$c.$f"
			[ -n "$hsd_pid" ] &&
				run_h2load "http://127.0.0.1:$HSD_PORT/$f" "$c" \
				    >>"$tmp/hsd.p$c.$f"
		done
		n=$(median <"$tmp/nginx.p$c.$f")
		h=$(median <"$tmp/hsd.p$c.$f")
		ratio=$(awk -v h="$h" -v n="$n" \
		    'BEGIN { if (h == "-" || n == 0) print "-"; else printf "%.2f", h / n }')
		printf '%-16s %12s %12s %10s\n' "$f, $c" "$n" "$h" "$ratio"
	done
done

# Memory after the runs, summed over each server's processes: now (VmRSS)
# and the most each process ever held (VmHWM).
echo
echo "memory, KiB   rss now   rss peak"
printf 'nginx       %9s %10s\n' "$(mem_kib VmRSS "$nginx_pid")" \
    "$(mem_kib VmHWM "$nginx_pid")"
[ -n "$hsd_pid" ] &&
	printf 'hsd         %9s %10s\n' "$(mem_kib VmRSS "$hsd_pid")" \
	    "$(mem_kib VmHWM "$hsd_pid")"
exit 0
