#!/bin/bash
# hsd against nginx, side by side in one run: both serve the same files from
# the same directory on loopback, wrk loads each in turn, and the table shows
# the median requests/s and the ratio hsd/nginx; then h2load does the same
# with 8 requests pipelined per connection (HTTP/1.1), at 8 and at 100
# connections.  Not a test: it asserts nothing (it does print any request
# that failed).
#
#   HSD_BUILDDIR=/tmp/build bench/bench.sh
#
# Environment: HSD_BUILDDIR (default .: hsd-poolmgr and its children are
# taken from there; if it has no hsd-poolmgr, the one in PATH is used with
# its compiled-in libexec_dir), DURATION (seconds per wrk run, 10), RUNS
# (runs per server and file, 3), NGINX_PORT (18081), HSD_PORT (18082),
# NGINX (/usr/sbin/nginx), SKIP_HSD=1 (nginx only, to check the harness).
#
# Fairness: nginx gets worker_processes 2, the CPU budget of hsd's 2 workers
# (hsd also has its listener; the machine has 2 cores and wrk shares them).
# hsd writes no access log yet (hsd-logd does not exist), so nginx runs with
# access_log off too.  nginx keeps open file descriptors (open_file_cache)
# as a performance-minded operator would.

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
NGINX_PORT=${NGINX_PORT:-18081}
HSD_PORT=${HSD_PORT:-18082}
NGINX=${NGINX:-/usr/sbin/nginx}
HSD_BUILDDIR=${HSD_BUILDDIR:-.}
FILES="1k.txt 100k.txt"

tmp=$(mktemp -d /tmp/hsd-bench.XXXXXX) || exit 1
nginx_pid='' hsd_pid=''

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local pid
	for pid in $hsd_pid $nginx_pid; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $hsd_pid $nginx_pid; do
		# Graceful stop first; whatever is left after 5 s is killed.
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

# Wait until url answers 200; give up after 10 s or if pid exits.
wait_http() {
	local _
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] &&
			return 0
		sleep 0.1
	done
	return 1
}

# Sum of a /proc/PID/status field (VmRSS, VmHWM) over pid and its children,
# in KiB.
mem_kib() {
	local field=$1 pid=$2 total=0 p v
	for p in "$pid" $(pgrep -P "$pid"); do
		v=$(awk -v f="$field:" '$1 == f { print $2 }' \
		    "/proc/$p/status" 2>/dev/null)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# Requests/s of one wrk run; wrk's errors go to stderr.
run_wrk() {
	local out
	out=$(wrk -t2 -c50 -d"${DURATION}s" "$1") || die "wrk $1 failed"
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

median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "-"
		else if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2]
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

command -v wrk >/dev/null || die "wrk not found (sh tools/deps.sh bench)"
command -v curl >/dev/null || die "curl not found (sh tools/deps.sh bench)"
command -v h2load >/dev/null || die "h2load not found (sh tools/deps.sh bench)"
[ -x "$NGINX" ] || die "$NGINX not found (sh tools/deps.sh bench)"

# hsd-poolmgr refuses a run_dir others may write to, whatever the umask.
mkdir "$tmp/www" "$tmp/nginx" "$tmp/hsd" && chmod 700 "$tmp/hsd" || exit 1
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/1k.txt"
head -c 102400 /dev/urandom | base64 -w 64 | head -c 102400 \
    >"$tmp/www/100k.txt"

# nginx: its own prefix in the temp dir, so nothing of /etc/nginx is used.
user=
[ "$(id -u)" -eq 0 ] && user="user root;"
cat >"$tmp/nginx/nginx.conf" <<EOF
$user
worker_processes 2;
daemon off;
master_process on;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events {
	worker_connections 1024;
}
http {
	default_type text/plain;
	access_log off;
	sendfile on;
	tcp_nopush on;
	open_file_cache max=1000 inactive=60s;
	open_file_cache_valid 60s;
	keepalive_timeout 120s;
	keepalive_requests 1000000;	# hsd sets no per-connection cap
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $tmp/www;
	}
}
EOF
"$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
wait_http "http://127.0.0.1:$NGINX_PORT/1k.txt" "$nginx_pid" ||
	{ cat "$tmp/nginx/error.log" >&2; die "nginx did not start"; }

if [ -z "$SKIP_HSD" ]; then
	if [ -x "$HSD_BUILDDIR/hsd-poolmgr" ]; then
		poolmgr=$HSD_BUILDDIR/hsd-poolmgr
		libexec="libexec_dir = \"$(cd "$HSD_BUILDDIR" && pwd)\""
	else
		poolmgr=$(command -v hsd-poolmgr) ||
			die "no hsd-poolmgr in $HSD_BUILDDIR or PATH"
		libexec=
	fi
	cat >"$tmp/hsd/hsd.conf" <<EOF
run_dir = "$tmp/hsd"
$libexec
pool "default" {
	workers = 2
}
site "default" {
	bindings = {"127.0.0.1:$HSD_PORT"}
	root = "$tmp/www"
}
EOF
	"$poolmgr" -f "$tmp/hsd/hsd.conf" >"$tmp/hsd/hsd.log" 2>&1 &
	hsd_pid=$!
	wait_http "http://127.0.0.1:$HSD_PORT/1k.txt" "$hsd_pid" ||
		{ cat "$tmp/hsd/hsd.log" >&2; die "hsd did not start"; }
fi

echo "wrk -t2 -c50 -d${DURATION}s, $RUNS runs each, median req/s"
printf '%-10s %12s %12s %10s\n' file nginx hsd hsd/nginx
for f in $FILES; do
	: >"$tmp/nginx.$f"
	: >"$tmp/hsd.$f"
	for _ in $(seq "$RUNS"); do
		run_wrk "http://127.0.0.1:$NGINX_PORT/$f" >>"$tmp/nginx.$f"
		[ -n "$hsd_pid" ] &&
			run_wrk "http://127.0.0.1:$HSD_PORT/$f" >>"$tmp/hsd.$f"
	done
	n=$(median <"$tmp/nginx.$f")
	h=$(median <"$tmp/hsd.$f")
	ratio=$(awk -v h="$h" -v n="$n" \
	    'BEGIN { if (h == "-" || n == 0) print "-"; else printf "%.2f", h / n }')
	printf '%-10s %12s %12s %10s\n' "$f" "$n" "$h" "$ratio"
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
