#!/usr/bin/env bash
# The cluster test of `cargo xtask slurm`: a real one-node Slurm cluster on this machine computes a
# sharded NTK as a 4-task job array plus a dependent merge job; one array task is killed midway and
# requeued; the merged files must equal, byte for byte, the single-process result.
#
#   ci/slurm-test.sh [N_POINTS] [DEPTH]      (defaults 4000 points, 24 hidden layers)
#
# Installs Debian's slurm-wlm and munge if missing (root), starts munged + slurmctld + slurmd in
# target/slurm-test/cluster, and stops every daemon it started, by pid, on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4000}
DEPTH=${2:-24}
SHARDS=4
WORK="$PWD/target/slurm-test"
CLUSTER="$WORK/cluster"
rm -rf "$WORK"
mkdir -p "$WORK/single" "$WORK/sharded"

ci/slurm-local.sh install
cargo build --release -p xtask --quiet
BIN="$PWD/target/release/xtask"

# Inputs: n × 16 float64 points x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1)), as .npy.
python3 - "$WORK/x.npy" "$N" <<'PY'
import math, struct, sys
path, n, d = sys.argv[1], int(sys.argv[2]), 16
header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (n, d)
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    for i in range(n):
        f.write(struct.pack("<%dd" % d, *[math.sin(0.7 * (i + 1) + 1.3 * (j + 1))
                                         + 0.1 * math.cos(2.1 * (i + 1) * (j + 1)) for j in range(d)]))
PY
python3 - "$WORK/spec.json" "$DEPTH" <<'PY'
import json, sys
layers = []
for _ in range(int(sys.argv[2])):
    layers += [{"dense": {"width": 512, "w_std": 1.5, "b_std": 0.05}}, {"activation": "erf"}]
layers.append({"dense": {"width": 1, "w_std": 1.5, "b_std": 0.05}})
json.dump({"layers": layers, "get": ["nngp", "ntk"]}, open(sys.argv[1], "w"))
PY
ARGS=(kernel --spec "$WORK/spec.json" --x1 "$WORK/x.npy" --max-memory 1G --no-progress)

start=$(date +%s%N)
"$BIN" "${ARGS[@]}" --out "$WORK/single/K.npy" >/dev/null
echo "slurm-test: single process, n = $N: $(( ($(date +%s%N) - start) / 1000000 )) ms"

trap 'ci/slurm-local.sh stop "$CLUSTER"' EXIT
eval "$(ci/slurm-local.sh start "$CLUSTER")"
"$BIN" slurm --shards "$SHARDS" --job-dir "$WORK/job" --cpus 1 -- \
    "${ARGS[@]}" --out "$WORK/sharded/K.npy" >/dev/null
submitted=$("$WORK/job/submit.sh")
array=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\), merge job \([0-9]*\)$/\1/p')
merge=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\), merge job \([0-9]*\)$/\2/p')
echo "slurm-test: $submitted"

# Kill array task 1 midway (some of its tiles written, not all) and requeue it.
victim="${array}_1"
manifest="$WORK/sharded/K.shard-1-of-$SHARDS.manifest.json"
requeued=no
for _ in $(seq 1 600); do
    state=$(squeue -h -j "$victim" -o '%T' 2>/dev/null || true)
    if [[ "$state" == RUNNING && -f "$manifest" ]] &&
        python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if 0 < len(m["finished"]) < m["tiles_total"] else 1)' "$manifest" 2>/dev/null; then
        done_tiles=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["finished"]), "of", m["tiles_total"])' "$manifest")
        scontrol requeue "$victim"
        requeued=yes
        echo "slurm-test: requeued task $victim after $done_tiles tiles"
        break
    fi
    [[ -z "$(squeue -h -j "$array" 2>/dev/null)" ]] && break
    sleep 0.2
done
if [[ $requeued != yes ]]; then
    echo "slurm-test: FAIL: task $victim finished before it could be killed midway (use more points or depth)" >&2
    exit 1
fi
# Slurm holds a requeued batch job back for a while; release it now.
scontrol release "$victim" 2>/dev/null || true

for _ in $(seq 1 1800); do
    [[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]] && break
    sleep 1
done
merge_state=$(scontrol show job "$merge" | sed -n 's/.*JobState=\([A-Z]*\).*/\1/p')
restarts=$(scontrol show job "$victim" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' | head -1)
echo "slurm-test: merge job $merge: $merge_state; task $victim restarts: $restarts"
[[ "$merge_state" == COMPLETED ]] || { echo "slurm-test: FAIL: merge job $merge_state" >&2; cat "$WORK"/job/*.log >&2; exit 1; }
[[ "${restarts:-0}" -ge 1 ]] || { echo "slurm-test: FAIL: task $victim was not restarted" >&2; exit 1; }
for kernel in nngp ntk; do
    cmp "$WORK/single/K.$kernel.npy" "$WORK/sharded/K.$kernel.npy"
done
echo "slurm-test: PASS: merged $SHARDS-shard NNGP and NTK ($N x $N) byte-identical to the single-process files"
