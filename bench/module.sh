#!/bin/bash
# A dynamic "hello" page from a handler module, hsd against nginx side by
# side in one run: hsd answers it with modules/hello (handler =
# "module"), nginx proxies it to a small upstream -- a second nginx
# server block that answers with `return 200` -- with keep-alive
# connections to it (upstream keepalive, proxy_http_version 1.1), as a
# performance-minded operator sets a reverse proxy up.  wrk, 50
# keep-alive connections, alternating rounds, median requests/s and the
# ratio hsd/nginx.  Not a test: it asserts nothing, but it prints any
# request that failed.
#
#   HSD_BUILDDIR=/tmp/build bench/module.sh
#
# Environment: DURATION (10), RUNS (3), THREADS ("1 2"), UPSTREAM_PORT
# (18083), and what bench/servers.sh reads (HSD_BUILDDIR, ports, NGINX,
# LOGGING).

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
THREADS=${THREADS:-1 2}
UPSTREAM_PORT=${UPSTREAM_PORT:-18083}
CACHE=off

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

command -v wrk >/dev/null || die "wrk not found (sh tools/deps.sh bench)"
module=$(cd "${HSD_BUILDDIR:-.}" && pwd)/modules/hello/hello.so
[ -f "$module" ] || die "$module not built"

run_wrk() {
	local out
	out=$(wrk -t"$2" -c50 -d"${DURATION}s" "$1") || die "wrk $1 failed"
	if grep -Eq 'Socket errors|Non-2xx' <<<"$out"; then
		echo "module.sh: $1:" >&2
		grep -E 'Socket errors|Non-2xx' <<<"$out" >&2
	fi
	awk '$1 == "Requests/sec:" { print $2 }' <<<"$out"
}

# The upstream answers what the module answers: "Hello, world\n".
nginx_extra="location /hello/ {
				proxy_pass http://hello_upstream;
				proxy_http_version 1.1;
				proxy_set_header Connection \"\";
			}
		}
		upstream hello_upstream {
			server 127.0.0.1:$UPSTREAM_PORT;
			keepalive 32;
		}
		server {
			listen 127.0.0.1:$UPSTREAM_PORT;
			access_log off;
			location / { return 200 \"Hello, world\\n\"; }"
hsd_extra="application \"/hello\" { handler = \"module\"  module = \"$module\" }"
start_servers
for port in "$NGINX_PORT" "$HSD_PORT"; do
	body=$(curl -s "http://127.0.0.1:$port/hello/")
	[ "$body" = "Hello, world" ] ||
		die "port $port answers /hello/ with \"$body\""
done

echo "LOGGING=$LOGGING, $(nproc) cores"
echo "wrk -c50 -d${DURATION}s, $RUNS alternating runs each, median req/s"
printf '%-22s %12s %10s %10s\n' 'page, threads' nginx-proxy hsd hsd/nginx
for t in $THREADS; do
	: >"$tmp/n.$t"
	: >"$tmp/h.$t"
	for _ in $(seq "$RUNS"); do
		run_wrk "http://127.0.0.1:$NGINX_PORT/hello/" "$t" >>"$tmp/n.$t"
		run_wrk "http://127.0.0.1:$HSD_PORT/hello/" "$t" >>"$tmp/h.$t"
	done
	n=$(median <"$tmp/n.$t")
	h=$(median <"$tmp/h.$t")
	printf '%-22s %12s %10s %10s\n' "module hello, -t$t" "$n" "$h" \
	    "$(awk -v h="$h" -v n="$n" 'BEGIN { printf "%.2f", h / n }')"
done
exit 0
