#!/bin/bash
# What a client sees when PHP processes die under load, nginx and hsd
# side by side in one run: a PHP page through Debian's php-fpm (each
# server its own pool of FPM_CHILDREN processes in one php-fpm, so the
# kills hit the server being measured), nginx with fastcgi_pass as its
# documentation configures it, hsd with fastcgi_address and
# fastcgi_connections.  While wrk runs (2 threads, 50 connections), a
# random process of that server's pool is SIGKILLed every 300 ms;
# tests/e2e/check_body.lua counts every response that is not a 200 with
# the page's exact body.  Not a test: it asserts nothing, it prints.
#
#   HSD_BUILDDIR=/tmp/build bench/php_kills.sh
#
# Environment: DURATION (seconds per run, 6), RUNS (3), FPM_CHILDREN (4),
# FPM (/usr/sbin/php-fpm8.2), and what bench/servers.sh reads.

DURATION=${DURATION:-6}
RUNS=${RUNS:-3}
FPM_CHILDREN=${FPM_CHILDREN:-4}
FPM=${FPM:-/usr/sbin/php-fpm8.2}
CACHE=off

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

command -v wrk >/dev/null || die "wrk not found (sh tools/deps.sh bench)"
check=$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/check_body.lua

start_fpm nginx hsd

keep=$((FPM_CHILDREN / 2))
[ "$keep" -ge 1 ] || keep=1
nginx_extra="location /php/ {
				include /etc/nginx/fastcgi_params;
				fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
				fastcgi_pass unix:$tmp/fpm/nginx.sock;
			}"
hsd_extra="application \"/php\" { handler = \"fastcgi\"  fastcgi_address = \"unix:$tmp/fpm/hsd.sock\"  fastcgi_connections = $keep }"
start_servers
mkdir "$tmp/www/php" || exit 1
printf '<?php echo str_repeat("hello from php-fpm\\n", 50);\n' \
    >"$tmp/www/php/hello.php"
for _ in $(seq 50); do printf 'hello from php-fpm\n'; done >"$tmp/expected"
wait_http "http://127.0.0.1:$NGINX_PORT/php/hello.php" "$nginx_pid" ||
	die "nginx does not answer the PHP page"
wait_http "http://127.0.0.1:$HSD_PORT/php/hello.php" "$hsd_pid" ||
	die "hsd does not answer the PHP page"

# The pids of php-fpm pool $1's processes.
pool_pids() {
	pgrep -P "$fpm_pid" -f "php-fpm: pool $1"
}

# One run: $1 server, $2 url; prints "kills responses non2xx bad".
run() {
	local out kills=0 end=$((SECONDS + DURATION)) v
	wrk -t2 -c50 -d"${DURATION}s" --timeout 5s -s "$check" "$2" \
	    -- "$tmp/expected" >"$tmp/wrk.out" 2>&1 &
	local wrk_pid=$!
	while [ "$SECONDS" -lt "$end" ]; do
		sleep 0.3
		v=$(pool_pids "$1" | shuf -n 1)
		[ -n "$v" ] && kill -KILL "$v" 2>/dev/null && kills=$((kills + 1))
	done
	wait "$wrk_pid"
	out=$(cat "$tmp/wrk.out")
	printf '%s %s %s %s\n' "$kills" \
	    "$(awk '$1 == "bad" { print $4 }' <<<"$out")" \
	    "$(awk '/Non-2xx/ { print $5 }' <<<"$out" | grep . || echo 0)" \
	    "$(awk '$1 == "bad" { print $2 }' <<<"$out")"
}

echo "LOGGING=$LOGGING, $(nproc) cores, php-fpm pm.max_children=$FPM_CHILDREN per server, hsd fastcgi_connections=$keep"
echo "wrk -t2 -c50 -d${DURATION}s, a pool process SIGKILLed every 300 ms, $RUNS alternating runs"
printf '%-8s %6s %10s %8s %12s\n' server kills responses non-2xx 'bad bodies'
for _ in $(seq "$RUNS"); do
	printf '%-8s %6s %10s %8s %12s\n' nginx \
	    $(run nginx "http://127.0.0.1:$NGINX_PORT/php/hello.php")
	printf '%-8s %6s %10s %8s %12s\n' hsd \
	    $(run hsd "http://127.0.0.1:$HSD_PORT/php/hello.php")
done
exit 0
