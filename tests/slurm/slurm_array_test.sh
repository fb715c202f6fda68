#!/usr/bin/env bash
# slurm_array_test.sh BUILD_DIR SOURCE_DIR
#
# `optbench slurm` against a real Slurm: starts a single-node cluster on this
# machine (munged, slurmctld and slurmd on 127.0.0.1, free ports, every file
# in a temporary folder), then checks that
#   1. the toy suite run as a job array gives results bitwise identical to
#      `optbench run` (same build, one BLAS thread), and report works on them;
#   2. a resubmission runs only the cells whose results are missing;
#   3. a cell that crashes inside an array task, and one stopped by scancel,
#      are reported by `optbench status` with their reasons (the crash with
#      the same status and reason as the local runner gives it), a running
#      cell shows as running and is left out of a new submission, and a
#      resubmission runs only the missing and failed cells;
#   4. a cell stopped by the time limit is recorded as timeout, and one
#      cancelled after a checkpoint resumes from it when resubmitted, bitwise
#      identical to the local run.
# Installs Debian's slurm-wlm and munge when missing (root, apt-get). Exits 77
# (ctest: skipped) only when the Slurm daemons cannot start; stops every
# daemon it started, and the jobs, on the way out.
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
ob="$build/optbench"
export PATH="$PATH:/usr/sbin:/sbin"
SKIP=77
t0=$SECONDS
say() { echo "[slurm test, $((SECONDS - t0)) s] $*"; }
skip() { echo "SKIPPED: $*" >&2; exit "$SKIP"; }
fail() {
  echo "FAILED: $*" >&2
  [ -n "${tmp:-}" ] && for f in "$tmp"/log/*.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

# ---- Slurm and munge ---------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs; run this test as root"
missing=()
for c in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || skip "no ${missing[*]} and no apt-get to install slurm-wlm and munge"
  say "installing slurm-wlm and munge (missing: ${missing[*]})"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >/dev/null 2>&1 ||
    skip "could not install slurm-wlm and munge with apt-get (no network?)"
fi

# ---- a single-node cluster in a temporary folder -------------------------------
tmp="$(mktemp -d /tmp/optbench-slurm.XXXXXX)"
chmod 755 "$tmp" # munged wants its socket folder reachable by all
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/work"
munge_pid="" ctld_pid="" slurmd_pid=""

stop_pid() { # pid: TERM, then KILL after 10 s
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  set +e
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    # every job here is ours (our controller); wait for their processes to go
    scancel --user "$(id -u)" >/dev/null 2>&1
    for _ in $(seq 1 60); do [ -z "$(squeue --noheader -o %i 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  stop_pid "$slurmd_pid"
  stop_pid "$ctld_pid"
  stop_pid "$munge_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % 30000))
  if port_free "$p" && port_free $((p + 1)); then port=$p; break; fi
done
[ -n "$port" ] || skip "no two free TCP ports found for slurmctld and slurmd"

dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --foreground --socket="$tmp/munge/socket" --key-file="$tmp/munge/munge.key" \
  --log-file="$tmp/log/munged.log" --pid-file="$tmp/munge/munged.pid" \
  --seed-file="$tmp/munge/seed" >"$tmp/log/munged.out.log" 2>&1 &
munge_pid=$!

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/^MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)"
export SLURM_CONF="$tmp/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=optbench-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
InactiveLimit=0
MinJobAge=60
NodeName=obnode CPUs=$cpus RealMemory=$mem_mb NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=obtest Nodes=obnode Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 1 50); do [ -S "$tmp/munge/socket" ] && break; sleep 0.1; done
[ -S "$tmp/munge/socket" ] || skip "munged did not start: $(tail -n 3 "$tmp/log/munged.out.log" 2>/dev/null)"
slurmctld -D -f "$SLURM_CONF" >"$tmp/log/slurmctld.out.log" 2>&1 &
ctld_pid=$!
slurmd -D -f "$SLURM_CONF" -N obnode >"$tmp/log/slurmd.out.log" 2>&1 &
slurmd_pid=$!
state=""
for _ in $(seq 1 60); do
  state="$(sinfo --noheader -o %T 2>/dev/null || true)"
  [ "$state" = idle ] && break
  kill -0 "$ctld_pid" 2>/dev/null && kill -0 "$slurmd_pid" 2>/dev/null || break # one of them quit
  sleep 0.5
done
if [ "$state" != idle ]; then
  for f in "$tmp"/log/*.log; do echo "--- tail of $f"; tail -n 8 "$f"; done
  skip "the Slurm daemons did not start (node state '${state:-none}'; logs above)"
fi
say "single-node Slurm up: ports $port/$((port + 1)), $cpus CPUs, $tmp"

# ---- helpers --------------------------------------------------------------------
cd "$tmp/work"
submit() { # args of optbench slurm; prints the job id
  local out
  out="$("$ob" slurm "$@")" || fail "optbench slurm $*: $out"
  echo "$out" >&2
  sed -n 's/^optbench: submitted Slurm job \([0-9]*\):.*/\1/p' <<<"$out"
}
wait_job() { # job id, seconds
  for _ in $(seq 1 $(($2 * 4))); do
    [ -z "$(squeue --noheader --jobs "$1" -o %i 2>/dev/null)" ] && return 0
    sleep 0.25
  done
  squeue >&2
  fail "job $1 did not end within $2 s"
}
wait_for() { # seconds, shell condition
  local limit=$1
  shift
  for _ in $(seq 1 $((limit * 4))); do eval "$*" && return 0; sleep 0.25; done
  fail "waited $limit s for: $*"
}
expect() { # file, fixed string
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected '$2' in $1"; }
}
last_tasks() { ls -t "$1"/slurm/*.tasks | head -n 1; }

# ---- 1. the toy suite: a job array gives the local run's numbers, bitwise -------------
say "toy suite: local run, one BLAS thread"
"$ob" run "$src/tests/suites/toy.lua" --out local --threads 1 --quiet >/dev/null
say "toy suite: job array, one CPU per task"
job="$(submit "$src/tests/suites/toy.lua" --out cluster --cpus 1 --max-parallel 2)"
[ -n "$job" ] || fail "no job id from optbench slurm"
wait_job "$job" 90
"$ob" status cluster >status.txt
expect status.txt "done 3, diverged 0, running 0, pending 0, failed 0, missing 0"
"$ob" compare --bitwise local cluster >compare.txt || { cat compare.txt; fail "array results differ from the local run"; }
expect compare.txt "3 cells matched, 0 differ bitwise"
"$ob" report cluster >/dev/null || fail "optbench report on the array's results"
[ -s cluster/report.md ] || fail "no report.md"
for i in 1 2 3; do [ -s "cluster/logs/slurm-${job}_$i.out" ] || fail "no Slurm log for task $i"; done
[ "$(ls cluster/logs/*.log | wc -l)" -eq 3 ] || fail "expected one log per cell in cluster/logs/"
say "toy suite: bitwise identical to the local run"

# ---- 2. a lost result: the resubmission runs that cell only ------------------------
rm cluster/cells/toy-CM-*.json
job="$(submit "$src/tests/suites/toy.lua" --out cluster --cpus 1)"
tasks="$(last_tasks cluster)"
[ "$(wc -l <"$tasks")" -eq 1 ] && grep -q '^toy-CM-' "$tasks" || fail "resubmission should hold only toy-CM: $(cat "$tasks")"
wait_job "$job" 60
"$ob" compare --bitwise local cluster >compare.txt || { cat compare.txt; fail "resubmitted cell differs"; }
say "resubmission ran only the missing cell, bitwise identical again"

# ---- 3. failures inside array tasks ------------------------------------------------
export OPTBENCH_PLUGIN_PATH="$build/tests/faulty-plugins"
# a cell spinning in an update is waited for 1 s after SIGTERM (not the
# default 20), well inside this cluster's KillWait of 5 s
export OPTBENCH_STOP_GRACE_SECONDS=1
cat >faults.lua <<'EOF'
local ob = require "optbench"
return ob.suite { name = "faults", task = ob.task("toy"),
  methods = { ob.method { label = "ok", optimizer = ob.optimizer("sgd") },
              ob.method { label = "ok2", optimizer = ob.optimizer("cm") },
              ob.method { label = "crash", optimizer = ob.optimizer("crash_on_step3") },
              ob.method { label = "spin", optimizer = ob.optimizer("spin_on_step3") } },
  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }
EOF
# the local runner's verdict on the crashing cell, for comparison
cat >crash.lua <<'EOF'
local ob = require "optbench"
return ob.suite { name = "faults", task = ob.task("toy"),
  methods = { ob.method { label = "crash", optimizer = ob.optimizer("crash_on_step3") } },
  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }
EOF
"$ob" run crash.lua --out crash-local --quiet >/dev/null 2>&1 || true
"$ob" status crash-local >local.txt
local_verdict="$(grep -o '  crashed: .*\|  failed: .*' local.txt | head -n 1 | sed 's/; stderr: .*//')"
[ -n "$local_verdict" ] || { cat local.txt; fail "the local runner did not record the crash"; }

job="$(submit faults.lua --out faults --cpus 1)"
wait_for 60 '[ -n "$(ls faults/cells/toy-ok-*.json faults/cells/toy-ok2-*.json faults/cells/toy-crash-*.json 2>/dev/null | sed -n 3p)" ] && squeue --noheader --jobs '"$job"' -o "%K %T" | grep -q "RUNNING"'
"$ob" status faults >status.txt
expect status.txt "done 2, diverged 0, running 1, pending 0, failed 1, missing 0"
expect status.txt "Slurm job ${job}_4 on obnode (RUNNING)"
verdict="$(grep -o '  crashed: .*\|  failed: .*' status.txt | head -n 1)"
case "$verdict" in
  "${local_verdict} [Slurm job ${job}_3 on obnode]"*) ;;
  *) fail "array verdict '$verdict' is not the local runner's '$local_verdict' [Slurm job ${job}_3 on obnode]" ;;
esac
say "crash recorded as the local runner records it:$verdict"
# a new submission leaves the running cell out
"$ob" slurm faults.lua --out faults --dry-run >/dev/null 2>dry.txt
expect dry.txt "(1 array task) (left out: 2 finished, 1 queued or running)"
grep -q '^toy-crash-' "$(last_tasks faults)" || fail "the dry run should hold the crashed cell"
scancel "$job"
wait_job "$job" 30
"$ob" status faults >status.txt
expect status.txt "done 2, diverged 0, running 0, pending 0, failed 2, missing 0"
expect status.txt "crashed: stopped by Slurm (SIGTERM: scancel"
say "scancel recorded as crashed, stopped by Slurm"

# ---- 4. resubmission: only the missing and the failed cells -------------------------
rm faults/cells/toy-ok-*.json
ok2_before="$(cksum faults/cells/toy-ok2-*.json)"
crash_before="$(stat -c %Y.%y faults/cells/toy-crash-*.json)"
"$ob" status faults >status.txt
expect status.txt "done 1, diverged 0, running 0, pending 0, failed 2, missing 1"
job="$(submit faults.lua --out faults --cpus 1)"
tasks="$(last_tasks faults)"
names="$(cut -f1 "$tasks" | sed 's/-sparse-.*//' | sort | tr '\n' ' ')"
[ "$names" = "toy-crash toy-ok toy-spin " ] || fail "resubmission should hold crash, ok and spin, not: $names"
wait_for 60 '[ -n "$(ls faults/cells/toy-ok-*.json 2>/dev/null)" ] && [ "$(stat -c %Y.%y faults/cells/toy-crash-*.json)" != "$crash_before" ] && squeue --noheader --jobs '"$job"' -o "%T" | grep -q RUNNING'
scancel "$job"
wait_job "$job" 30
[ "$(cksum faults/cells/toy-ok2-*.json)" = "$ok2_before" ] || fail "the finished ok2 cell was run again"
"$ob" status faults >status.txt
expect status.txt "done 2, diverged 0, running 0, pending 0, failed 2, missing 0"
say "resubmission ran only the missing and failed cells"

# ---- 5. the time limit: Slurm's warning (USR1, 60 s before) stops the cell ------------
cat >spin.lua <<'EOF'
local ob = require "optbench"
return ob.suite { name = "spin", task = ob.task("toy"),
  methods = { ob.method { label = "spin", optimizer = ob.optimizer("spin_on_step3") } },
  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }
EOF
job="$(submit spin.lua --out spin --cpus 1 --time 1)" # a one-minute limit: warned at once
wait_job "$job" 180 # generous: a loaded machine (sanitizer builds) is slow to start and stop tasks
"$ob" status spin >status.txt
expect status.txt "timeout: stopped near its Slurm time limit [Slurm job ${job}_1 on obnode]"
expect "spin/logs/slurm-${job}_1.out" "did not finish (exit status"
say "time limit recorded as timeout"

# ---- 6. a cancelled cell resumes from its checkpoint, bitwise as if never stopped ------
unset OPTBENCH_PLUGIN_PATH OPTBENCH_STOP_GRACE_SECONDS
cat >resume.lua <<'EOF'
local ob = require "optbench"
return ob.suite { name = "resume", seed = 3, task = ob.task("toy"),
  methods = { ob.method { label = "NAG", optimizer = ob.optimizer("nag"),
    schedule = ob.schedule("sutskever2013", { mu_max = 0.99, final_updates = 100 }) } },
  lr = { 0.02 }, budgets = { smoke = { updates = 6000, eval_every = 1000 } } }
EOF
"$ob" run resume.lua --out resume-local --threads 1 --quiet >/dev/null
export OPTBENCH_CHECKPOINT_SECONDS=0.05
job="$(submit resume.lua --out resume --cpus 1)"
wait_for 60 'ls resume/state/*.ckpt >/dev/null 2>&1'
sleep 0.3
scancel "$job"
wait_job "$job" 30
[ -z "$(ls resume/cells/*.json 2>/dev/null)" ] || "$ob" status resume | grep -q "crashed: stopped by Slurm" ||
  fail "the cell finished before scancel: make resume.lua longer"
job="$(submit resume.lua --out resume --cpus 1)"
wait_job "$job" 120
unset OPTBENCH_CHECKPOINT_SECONDS
expect "$(ls resume/logs/toy-NAG-*.log)" "resuming from its checkpoint at update"
"$ob" compare --bitwise resume-local resume >compare.txt || { cat compare.txt; fail "resumed cell differs"; }
say "cancelled cell resumed from its checkpoint, bitwise identical to the local run"
say "passed"
