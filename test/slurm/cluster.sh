#!/usr/bin/env bash
# A one-node Slurm cluster for the tests and for a developer (root only; see
# ../shared/notes/slurm-one-node.md): `start` writes a munge key and a slurm.conf into
# $LTH_SLURM_DIR (default /tmp/lth-slurm), starts munged, slurmctld and slurmd, and waits until
# the node is idle; `stop` stops them; `env` prints the SLURM_CONF line a shell needs.
# Two partitions (`debug`, the default, and `gpu`) and one fake GPU (File=/dev/null), so that a
# test can check that a job asked for a partition and a GPU.
set -euo pipefail
dir=${LTH_SLURM_DIR:-/tmp/lth-slurm}
conf=$dir/slurm.conf
host=$(hostname -s)

stop() {
  for d in slurmd slurmctld; do
    if [ -f "$dir/$d.pid" ]; then kill "$(cat "$dir/$d.pid")" 2>/dev/null || true; fi
  done
  if [ -f "$dir/munged.pid" ]; then kill "$(cat "$dir/munged.pid")" 2>/dev/null || true; fi
  for _ in $(seq 50); do
    pgrep -f "slurm(ctld|d) -f $conf" >/dev/null 2>&1 || break
    sleep 0.1
  done
  pkill -9 -f "slurm(ctld|d) -f $conf" 2>/dev/null || true
}

start() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null || { echo "slurm or munge is not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "starting the test cluster needs root" >&2; exit 1; }
  stop
  rm -rf "$dir/state" "$dir/spool"
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chown munge: "$dir/munge"
  if [ ! -s "$dir/munge.key" ]; then
    head -c 1024 /dev/urandom > "$dir/munge.key"
  fi
  chown munge: "$dir/munge.key"; chmod 400 "$dir/munge.key"
  mkdir -p /run/munge && chown munge: /run/munge
  runuser -u munge -- /usr/sbin/munged --key-file="$dir/munge.key" --pid-file="$dir/munge/munged.pid" \
    --socket=/run/munge/munge.socket.2 --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" --force
  ln -sf "$dir/munge/munged.pid" "$dir/munged.pid"
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  cat > "$conf" <<CONF
ClusterName=lthtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobAcctGatherType=jobacct_gather/none
DefMemPerCPU=1024
MinJobAge=600
KillWait=5
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
CONF
  echo "NodeName=$host Name=gpu File=/dev/null" > "$dir/gres.conf"
  SLURM_CONF=$conf /usr/sbin/slurmctld -f "$conf"
  SLURM_CONF=$conf /usr/sbin/slurmd -f "$conf"
  for _ in $(seq 100); do
    state=$(SLURM_CONF=$conf sinfo -h -o %T 2>/dev/null | head -1 || true)
    [ "$state" = idle ] && { echo "SLURM_CONF=$conf"; return 0; }
    sleep 0.2
  done
  echo "the test cluster did not become idle (sinfo: ${state:-no answer}); see $dir/slurmctld.log and $dir/slurmd.log" >&2
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "SLURM_CONF=$conf" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 64 ;;
esac
