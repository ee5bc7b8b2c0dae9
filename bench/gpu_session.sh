#!/usr/bin/env bash
# One scripted GPU session (issue 13): installs what the GPU machine lacks, then runs the steps
# named on the command line, each under a time cap, and leaves its logs and tables in $OUT.
#
#   bash bench/gpu_session.sh tests bench ofa nccl trial   # GPU tests, speed, ofa, NCCL, a short pipeline
#   bash bench/gpu_session.sh preset                   # the cifar10-gpu preset end to end
#
# Expects (ignored by git, carried to the machine): .whl/ (wheels of the Python packages the
# machine lacks: pymoo, lightgbm, ofa and their needs), .gpu/c10.tar.xz (the CIFAR-10 JPEG folders)
# and, for the before/after rows, .gpu/base/ (src/ and bench/ of the commit measured as "before").
set -u
OUT=${OUT:-/tmp/natv2-gpu-out}
mkdir -p "$OUT/logs"
export PYTHONUNBUFFERED=1
LOG="$OUT/logs"
RUNS=/tmp/natv2-runs
mkdir -p "$RUNS"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$OUT/summary.txt"; }

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$LOG/pip.log" 2>&1 || { stamp "wheel install failed"; tail -5 "$LOG/pip.log"; }
  export PYTHONPATH=/tmp/site
fi
SITE=${PYTHONPATH:-}
export PYTHONPATH="$PWD/src${SITE:+:$SITE}"
if [ -f .gpu/c10.tar.xz ] && [ ! -d .gpu/data/cifar10 ]; then
  mkdir -p .gpu/data && tar xJf .gpu/c10.tar.xz -C .gpu/data
fi
export NATV2_DATA="$PWD/.gpu/data"
export NATV2_CACHE=/tmp/natv2-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/summary.txt"
python3 -c "import torch, pymoo, lightgbm; print('torch', torch.__version__, 'pymoo', pymoo.__version__, 'lightgbm', lightgbm.__version__)" 2>&1 | tee -a "$OUT/summary.txt"
stamp "set-up done"

step() {  # step NAME SECONDS COMMAND...: run with a cap, keep the log, note the exit status
  local name=$1 cap=$2; shift 2
  stamp "start $name"
  timeout "$cap" "$@" > "$LOG/$name.log" 2>&1
  local rc=$?
  stamp "end $name rc=$rc"
  tail -25 "$LOG/$name.log" >> "$OUT/summary.txt"
}

for what in "$@"; do
  case $what in
    bench)
      if [ -d .gpu/base ]; then
        for ph in full expand_2; do
          step "before_$ph" 90 env PYTHONPATH="$PWD/.gpu/base/src${SITE:+:$SITE}" python3 .gpu/base/bench/train.py \
            --device cuda --data synthetic --batch 256 --steps 15 --phase $ph --threads 8
        done
      fi
      step after_256 120 python3 bench/train.py --device cuda --data synthetic --phase full expand_2 --batch 256 \
        --steps 15 --threads 8 --sync-every 1 0 --json "$LOG/after_256.json"
      step after_big 150 python3 bench/train.py --device cuda --data synthetic --phase full expand_2 --batch 1024 2048 \
        --steps 15 --threads 8 --json "$LOG/after_big.json"
      ;;
    ofa)
      step ofa 150 python3 bench/train_vs_ofa.py --device cuda --batch 256 1024 --steps 10 --rounds 2 --threads 8 \
        --json "$LOG/ofa.json"
      ;;
    tests)
      step tests 150 python3 -m pytest -q -x tests/test_gpu_path.py
      ;;
    nccl)
      step nccl_1 60 torchrun --standalone --nproc_per_node=1 bench/nccl_check.py
      step nccl_2 60 torchrun --standalone --nproc_per_node=2 bench/nccl_check.py
      ;;
    trial)
      step trial 170 python3 -m natv2 run --preset cifar10-gpu --run-dir "$RUNS/trial" --set train.epochs_scale=0.005 \
        --set search.iterations=1 --set finetune.max_epochs=1 --set finetune.max_subnets=2 --set train.phase_eval_random=2
      ;;
    preset)
      step preset 560 python3 -m natv2 run --preset cifar10-gpu --run-dir "$RUNS/c10gpu"
      ;;
    *) stamp "unknown step $what" ;;
  esac
done
# Everything small from the run folders (no weights), one archive; the logs in another.
tar czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.safetensors' --exclude='*.onnx' --exclude='*.pt' . 2>/dev/null
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$LOG"
stamp "all done"
