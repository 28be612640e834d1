#!/bin/bash
# Dynamic pages, hsd against nginx side by side in one run (as
# bench/bench.sh does for files): a PHP "hello" page through Debian's
# php-fpm, which both servers share (pm static, FPM_CHILDREN processes),
# nginx with fastcgi_pass as its documentation configures it, hsd with
# handler = "fastcgi" and fastcgi_address; and hsd with the same number
# of php-cgi processes it runs itself (fastcgi_command), against the
# same nginx + php-fpm.  wrk, 50 keep-alive
# connections, alternating rounds; the table gives median requests/s
# and the ratio hsd/nginx.  Not a test: it asserts nothing, but it
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

[ -x "$FPM" ] || die "$FPM not found (sh tools/deps.sh test)"
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

fpm_pid=
cleanup_fpm() {
	[ -n "$fpm_pid" ] && kill -TERM "$fpm_pid" 2>/dev/null
	cleanup
}
trap cleanup_fpm EXIT

mkdir -p "$tmp/fpm" && chmod 755 "$tmp/fpm" || exit 1
cat >"$tmp/fpm/fpm.conf" <<EOC
[global]
error_log = $tmp/fpm/fpm.log
daemonize = no
pid = $tmp/fpm/fpm.pid
[www]
user = www-data
group = www-data
listen = $tmp/fpm/fpm.sock
listen.mode = 0666
listen.backlog = 1024
pm = static
pm.max_children = $FPM_CHILDREN
pm.max_requests = 0
EOC
"$FPM" -F -y "$tmp/fpm/fpm.conf" >/dev/null 2>&1 &
fpm_pid=$!
for _ in $(seq 50); do [ -S "$tmp/fpm/fpm.sock" ] && break; sleep 0.1; done
[ -S "$tmp/fpm/fpm.sock" ] || die "php-fpm did not start"

nginx_extra="location /php/ {
				include /etc/nginx/fastcgi_params;
				fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
				fastcgi_pass unix:$tmp/fpm/fpm.sock;
			}"
hsd_extra="application \"/php\" { handler = \"fastcgi\"  fastcgi_address = \"unix:$tmp/fpm/fpm.sock\" }
		application \"/phpcgi\" { handler = \"fastcgi\"  fastcgi_command = \"/usr/bin/php-cgi\"  fastcgi_processes = $FPM_CHILDREN }"
start_servers
for d in php phpcgi; do
	mkdir "$tmp/www/$d" || exit 1
	printf '<?php\nheader("Content-Type: text/plain");\necho "Hello, world\\n";\n' \
	    >"$tmp/www/$d/hello.php"
done
wait_http "http://127.0.0.1:$NGINX_PORT/php/hello.php" "$nginx_pid" ||
	die "nginx does not answer the PHP page"
wait_http "http://127.0.0.1:$HSD_PORT/php/hello.php" "$hsd_pid" ||
	die "hsd does not answer the PHP page"
wait_http "http://127.0.0.1:$HSD_PORT/phpcgi/hello.php" "$hsd_pid" ||
	die "hsd does not answer the PHP page through php-cgi"

echo "LOGGING=$LOGGING, $(nproc) cores, php-fpm pm.max_children=$FPM_CHILDREN (shared)"
echo "wrk -c50 -d${DURATION}s, $RUNS alternating runs each, median req/s"
printf '%-30s %10s %10s %10s\n' 'hsd mode, threads' nginx+fpm hsd hsd/nginx
for t in $THREADS; do
	: >"$tmp/n.$t"
	: >"$tmp/h.$t"
	: >"$tmp/c.$t"
	for _ in $(seq "$RUNS"); do
		run_wrk "http://127.0.0.1:$NGINX_PORT/php/hello.php" "$t" >>"$tmp/n.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/php/hello.php" "$t" >>"$tmp/h.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/phpcgi/hello.php" "$t" >>"$tmp/c.$t"
	done
	n=$(median <"$tmp/n.$t")
	for m in h c; do
		h=$(median <"$tmp/$m.$t")
		[ $m = h ] && what="php-fpm (fastcgi_address)" ||
			what="php-cgi (fastcgi_command)"
		printf '%-30s %10s %10s %10s\n' "$what, -t$t" "$n" "$h" \
		    "$(awk -v h="$h" -v n="$n" 'BEGIN { printf "%.2f", h / n }')"
	done
done
exit 0
