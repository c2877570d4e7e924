#!/usr/bin/env bash
# A PostgreSQL 15 cluster of the test run's own, on 127.0.0.1 and a port of its own:
#   Tests/Reference/postgres_cluster.sh start DIR PORT   (installs Debian's postgresql if missing)
#   Tests/Reference/postgres_cluster.sh stop DIR
# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user; DIR is made for it.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
command=${1:?start or stop}
dir=${2:?the folder of the cluster}

as_postgres() {
    # From /, which the postgres user can enter whatever folder the run was started in.
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

case "$command" in
start)
    port=${3:?the port}
    if [ ! -x "$bin/initdb" ]; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        # The postgres user must reach the folder through its parents.
        parent=$(dirname "$dir")
        while [ "$parent" != / ]; do chmod o+x "$parent"; parent=$(dirname "$parent"); done
    fi
    [ -d "$dir/data" ] || as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres > "$dir/initdb.log"
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" start > /dev/null
    ;;
stop)
    [ -d "$dir/data" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null || true
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
