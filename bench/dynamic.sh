#!/bin/bash
# Dynamic pages, hsd against nginx side by side in one run (as
# bench/bench.sh does for files): a PHP "hello" page through Debian's
# php-fpm, nginx with fastcgi_pass, hsd with handler = "fastcgi" and
# fastcgi_address, each way twice: a connection per request (nginx's
# documented fastcgi_pass, hsd's default), and connections kept alive
# (nginx: an upstream with keepalive and fastcgi_keep_conn on; hsd:
# fastcgi_connections), as many per nginx or hsd worker as php-fpm has
# processes for each; and hsd with the same number of php-cgi
# processes it runs itself (fastcgi_command).  A kept connection pins a
# php-fpm process, so each of the four gets a php-fpm pool of its own
# (pm static, FPM_CHILDREN processes) in one php-fpm; only one runs at
# a time.  wrk, 50 keep-alive connections, alternating rounds; the
# table gives median requests/s and the ratio hsd/nginx, hsd's php-cgi
# against nginx's better way.  Not a test: it asserts nothing, but it
# prints any request that failed.
#
#   HSD_BUILDDIR=/tmp/build bench/dynamic.sh
#
# Environment: DURATION (seconds per run, 10), RUNS (3), THREADS ("1 2"),
# FPM_CHILDREN (4), FPM (/usr/sbin/php-fpm8.2), and what bench/servers.sh
# reads (HSD_BUILDDIR, ports, NGINX, LOGGING).

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
THREADS=${THREADS:-1 2}
FPM_CHILDREN=${FPM_CHILDREN:-4}
FPM=${FPM:-/usr/sbin/php-fpm8.2}
CACHE=off	# dynamic pages are not cached anyway; keep it out of the way

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

command -v wrk >/dev/null || die "wrk not found (sh tools/deps.sh bench)"

run_wrk() {
	local out
	out=$(wrk -t"$2" -c50 -d"${DURATION}s" "$1") || die "wrk $1 failed"
	if grep -Eq 'Socket errors|Non-2xx' <<<"$out"; then
		echo "dynamic.sh: $1:" >&2
		grep -E 'Socket errors|Non-2xx' <<<"$out" >&2
	fi
	awk '$1 == "Requests/sec:" { print $2 }' <<<"$out"
}

start_fpm nginx nginxk hsd hsdk

# Kept connections per worker: nginx and hsd both run 2 workers.
keep=$((FPM_CHILDREN / 2))
[ "$keep" -ge 1 ] || keep=1
nginx_http_extra="upstream fpmk {
			server unix:$tmp/fpm/nginxk.sock;
			keepalive $keep;
		}"
nginx_extra="location /php/ {
				include /etc/nginx/fastcgi_params;
				fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
				fastcgi_pass unix:$tmp/fpm/nginx.sock;
			}
			location /phpk/ {
				include /etc/nginx/fastcgi_params;
				fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
				fastcgi_keep_conn on;
				fastcgi_pass fpmk;
			}"
hsd_extra="application \"/php\" { handler = \"fastcgi\"  fastcgi_address = \"unix:$tmp/fpm/hsd.sock\" }
		application \"/phpk\" { handler = \"fastcgi\"  fastcgi_address = \"unix:$tmp/fpm/hsdk.sock\"  fastcgi_connections = $keep }
		application \"/phpcgi\" { handler = \"fastcgi\"  fastcgi_command = \"/usr/bin/php-cgi\"  fastcgi_processes = $FPM_CHILDREN }"
start_servers
for d in php phpk phpcgi; do
	mkdir "$tmp/www/$d" || exit 1
	printf '<?php\nheader("Content-Type: text/plain");\necho "Hello, world\\n";\n' \
	    >"$tmp/www/$d/hello.php"
done
for d in php phpk; do
	wait_http "http://127.0.0.1:$NGINX_PORT/$d/hello.php" "$nginx_pid" ||
		die "nginx does not answer /$d/hello.php"
done
for d in php phpk phpcgi; do
	wait_http "http://127.0.0.1:$HSD_PORT/$d/hello.php" "$hsd_pid" ||
		die "hsd does not answer /$d/hello.php"
done

echo "LOGGING=$LOGGING, $(nproc) cores, php-fpm pm.max_children=$FPM_CHILDREN per pool, $keep kept per worker"
echo "wrk -c50 -d${DURATION}s, $RUNS alternating runs each, median req/s"
printf '%-34s %10s %10s %10s\n' 'way, wrk threads' nginx hsd hsd/nginx
for t in $THREADS; do
	for m in n nk h hk c; do : >"$tmp/$m.$t"; done
	for _ in $(seq "$RUNS"); do
		run_wrk "http://127.0.0.1:$NGINX_PORT/php/hello.php" "$t" >>"$tmp/n.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/php/hello.php" "$t" >>"$tmp/h.$t"
		run_wrk "http://127.0.0.1:$NGINX_PORT/phpk/hello.php" "$t" >>"$tmp/nk.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/phpk/hello.php" "$t" >>"$tmp/hk.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/phpcgi/hello.php" "$t" >>"$tmp/c.$t"
	done
	n=$(median <"$tmp/n.$t")
	nk=$(median <"$tmp/nk.$t")
	best=$(printf '%s\n%s\n' "$n" "$nk" | sort -g | tail -1)
	row() {
		printf '%-34s %10s %10s %10s\n' "$1, -t$t" "$2" "$3" \
		    "$(awk -v h="$3" -v n="$2" 'BEGIN { printf "%.2f", h / n }')"
	}
	row "php-fpm, connection per request" "$n" "$(median <"$tmp/h.$t")"
	row "php-fpm, kept connections" "$nk" "$(median <"$tmp/hk.$t")"
	row "php-cgi run by hsd (vs best)" "$best" "$(median <"$tmp/c.$t")"
done
exit 0
