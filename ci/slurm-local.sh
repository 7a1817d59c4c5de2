#!/usr/bin/env bash
# A one-node Slurm cluster on localhost (slurmctld + slurmd + munged), for the cluster test.
#
#   ci/slurm-local.sh install          apt-get install slurm-wlm munge (Debian), if missing
#   ci/slurm-local.sh start DIR        write DIR/slurm.conf, start the daemons, wait until the node
#                                      is idle; prints `export SLURM_CONF=DIR/slurm.conf`
#   ci/slurm-local.sh stop DIR         stop every daemon this script started, by the pids in DIR
#
# Everything (config, state, spool, logs, pids) lives in DIR; nothing is written under /etc except
# munge's key when none exists. Needs root (slurmd and munged run as root here).
set -euo pipefail

cmd=${1:?usage: slurm-local.sh install|start DIR|stop DIR}

install() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
    local dir
    dir=$(realpath -m "${1:?start needs DIR}")
    mkdir -p "$dir"/{state,spool,log,munge}
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

    # munge: its own key, socket and pid file under DIR.
    if [[ ! -f "$dir/munge/munge.key" ]]; then
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
        chmod 400 "$dir/munge/munge.key"
    fi
    chmod 700 "$dir/munge"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed"

    cat >"$dir/slurm.conf" <<CONF
ClusterName=ntklab
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 1 60); do
        if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "export SLURM_CONF=$SLURM_CONF"
            return 0
        fi
        sleep 1
    done
    echo "slurm-local: the node did not become idle within 60 s; logs in $dir/log" >&2
    sinfo >&2 || true
    return 1
}

stop() {
    local dir
    dir=$(realpath -m "${1:?stop needs DIR}")
    local pidfile pid
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        [[ -f "$pidfile" ]] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
}

case "$cmd" in
install) install ;;
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
