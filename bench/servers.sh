# bench/servers.sh: sourced by the scripts in bench/.  It starts nginx and
# hsd side by side on loopback, serving the same files from one temp
# directory (1k.txt, 100k.txt), and stops both on exit.
#
# Environment: HSD_BUILDDIR (default .: hsd-poolmgr and its children are
# taken from there; if it has no hsd-poolmgr, the one in PATH is used with
# its compiled-in libexec_dir), NGINX_PORT (18081), HSD_PORT (18082),
# NGINX (/usr/sbin/nginx), SKIP_HSD=1 (nginx only, to check the harness),
# LOGGING (on: both write an access log line per request, as deployed;
# off: neither does -- run both to see what logging costs each), CACHE
# (on: hsd's response cache as configured by default, so a hot file is
# answered by the listener alone; off: cache { enabled = false }, every
# request goes to a worker -- the worker path).  A script that sources
# this file may set nginx_extra (lines inside nginx's server block) and
# hsd_extra (lines inside hsd's site) before start_servers, and
# nginx_http_extra (lines inside nginx's http block, such as upstreams).
# start_fpm POOL... starts Debian's php-fpm ($FPM) with one static pool
# of FPM_CHILDREN processes per name, on $tmp/fpm/POOL.sock, stopped on
# exit too.
#
# Fairness: nginx gets worker_processes 2, the CPU budget of hsd's 2 workers
# (hsd also has its listener; the machine has 2 cores and the load
# generator shares them).  With LOGGING=on both log every request: hsd its
# default W3C log (hsd-logd writes in rounds), nginx the combined format
# buffered as an operator would set it (buffer=64k flush=1s).  nginx keeps
# open file descriptors (open_file_cache) as a performance-minded operator
# would.

NGINX_PORT=${NGINX_PORT:-18081}
HSD_PORT=${HSD_PORT:-18082}
NGINX=${NGINX:-/usr/sbin/nginx}
HSD_BUILDDIR=${HSD_BUILDDIR:-.}
LOGGING=${LOGGING:-on}
case $LOGGING in
on)	hsd_format=w3c ;;
off)	hsd_format=off ;;
*)	echo "servers.sh: LOGGING is on or off" >&2; exit 1 ;;
esac
CACHE=${CACHE:-on}
case $CACHE in
on)	hsd_cache=true ;;
off)	hsd_cache=false ;;
*)	echo "servers.sh: CACHE is on or off" >&2; exit 1 ;;
esac

tmp=$(mktemp -d /tmp/hsd-bench.XXXXXX) || exit 1
nginx_pid='' hsd_pid=''

# shellcheck disable=SC2317 # called by the trap
fpm_pid=''

cleanup() {
	local pid
	[ -n "$fpm_pid" ] && kill -TERM "$fpm_pid" 2>/dev/null
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
	echo "${0##*/}: $*" >&2
	exit 1
}

start_fpm() {
	local p last
	[ -x "$FPM" ] || die "$FPM not found (sh tools/deps.sh test)"
	mkdir -p "$tmp/fpm" && chmod 755 "$tmp/fpm" || exit 1
	{
		printf '[global]\nerror_log = %s\ndaemonize = no\npid = %s\n' \
		    "$tmp/fpm/fpm.log" "$tmp/fpm/fpm.pid"
		for p in "$@"; do
			printf '[%s]\nuser = www-data\ngroup = www-data\n' "$p"
			printf 'listen = %s\nlisten.mode = 0666\n' \
			    "$tmp/fpm/$p.sock"
			printf 'listen.backlog = 1024\npm = static\n'
			printf 'pm.max_children = %s\npm.max_requests = 0\n' \
			    "$FPM_CHILDREN"
		done
	} >"$tmp/fpm/fpm.conf"
	"$FPM" -F -y "$tmp/fpm/fpm.conf" >/dev/null 2>&1 &
	fpm_pid=$!
	for p in "$@"; do last=$p; done
	for _ in $(seq 50); do
		[ -S "$tmp/fpm/$last.sock" ] && return 0
		sleep 0.1
	done
	die "php-fpm did not start"
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

median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "-"
		else if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2]
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Start both servers; sets nginx_pid and hsd_pid.
start_servers() {
	command -v curl >/dev/null || die "curl not found (sh tools/deps.sh bench)"
	[ -x "$NGINX" ] || die "$NGINX not found (sh tools/deps.sh bench)"
	# hsd-poolmgr refuses a run_dir others may write to, whatever the umask.
	# Started as root, hsd's workers read the files as www-data: the
	# temp dir (0700 from mktemp) must let them through.
	mkdir "$tmp/www" "$tmp/nginx" "$tmp/hsd" && chmod 700 "$tmp/hsd" &&
	    chmod 755 "$tmp" "$tmp/www" || exit 1
	head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/1k.txt"
	head -c 102400 /dev/urandom | base64 -w 64 | head -c 102400 \
	    >"$tmp/www/100k.txt"

	# nginx: its own prefix in the temp dir, so nothing of /etc/nginx is used.
	nginx_access_log="access_log off;"
	[ "$LOGGING" = on ] && nginx_access_log="access_log $tmp/nginx/access.log combined buffer=64k flush=1s;"
	user=
	[ "$(id -u)" -eq 0 ] && user="user root;"
	cat >"$tmp/nginx/nginx.conf" <<-EOF
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
		$nginx_access_log
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
		${nginx_http_extra:-}
		server {
			listen 127.0.0.1:$NGINX_PORT;
			root $tmp/www;
			${nginx_extra:-}
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
		cat >"$tmp/hsd/hsd.conf" <<-EOF
	run_dir = "$tmp/hsd"
	$libexec
	log {
		dir = "$tmp/hsd/log"
		format = "$hsd_format"
	}
	cache {
		enabled = $hsd_cache
	}
	pool "default" {
		workers = 2
		start = "always"
	}
	site "default" {
		bindings = {"127.0.0.1:$HSD_PORT"}
		root = "$tmp/www"
		${hsd_extra:-}
	}
	EOF
		"$poolmgr" -f "$tmp/hsd/hsd.conf" >"$tmp/hsd/hsd.log" 2>&1 &
		hsd_pid=$!
		wait_http "http://127.0.0.1:$HSD_PORT/1k.txt" "$hsd_pid" ||
			{ cat "$tmp/hsd/hsd.log" >&2; die "hsd did not start"; }
	fi
}
