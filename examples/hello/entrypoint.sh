#!/bin/sh
# The hello example's entrypoint (/entrypoint.sh in the image): writes a page from the
# Machine's environment, then runs busybox httpd in the foreground. The shell stays
# PID 1 and forwards stop signals: a PID 1 without a handler ignores SIGTERM/SIGINT
# (Linux and gVisor alike), and busybox httpd installs none, so an exec'd httpd would
# make every stop wait out the kill timeout.
set -eu
page="${GREETING:-Hello from aloft}! app=${FLY_APP_NAME:-unknown} machine=${FLY_MACHINE_ID:-unknown} region=${FLY_REGION:-unknown}"
if [ -n "${FLY_PRIVATE_IP:-}" ]; then
  page="$page private_ip=$FLY_PRIVATE_IP"
fi
mkdir -p /www/cgi-bin
printf '%s\n' "$page" > /www/index.html
# GET /cgi-bin/replay?region=R answers the page when this Machine is in R, else nothing
# but `fly-replay: region=R`, which the proxy replays there: fly-replay in a few lines.
cat > /www/cgi-bin/replay <<SCRIPT
#!/bin/sh
want="\${QUERY_STRING#region=}"
if [ -z "\$want" ] || [ "\$want" = "${FLY_REGION:-unknown}" ]; then
  printf 'Content-Type: text/plain\r\n\r\n%s\n' '$page'
else
  printf 'fly-replay: region=%s\r\nContent-Length: 0\r\n\r\n' "\$want"
fi
SCRIPT
chmod 755 /www/cgi-bin/replay
echo "hello: serving on port ${PORT:-8080}: $page"
httpd -f -v -p "${PORT:-8080}" -h /www &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server" || true; exit 0' TERM INT
wait "$server"
