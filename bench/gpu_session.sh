#!/usr/bin/env bash
# One scripted GPU session (issue 13): installs what the GPU machine lacks, then runs the steps
# named on the command line, each under a time cap, and leaves its logs and tables in $OUT.
#
#   bash bench/gpu_session.sh warmup preset bench ofa before tests nccl
# Steps: warmup (bench/gpu_warmup.py: first-call cost per layer shape by conv back-end), preset (the cifar10-gpu preset end to end), bench (training images/s, this tree), before
# (the same from .gpu/base, the commit measured as "before"), ofa (bench/train_vs_ofa.py), tests
# (tests/test_gpu_path.py), nccl (torchrun with 1 and 2 processes), trial (a shortened preset), policies
# (docs/scripts/policy_experiment.sh on .gpu/supernet/supernet.*, the cifar10 preset's trained supernet),
# suite (the default test tier, GPU hidden, in shards), quickstart (the preset on the CPU) and disk (the
# smoke run directory's peak size). Run several at once with & inside one call when their cores allow.
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
  if [ ! -f /tmp/site/.installed ]; then  # once per machine (several invocations may run side by side)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      > "$LOG/pip.log" 2>&1 && touch /tmp/site/.installed || { stamp "wheel install failed"; tail -5 "$LOG/pip.log"; }
  fi
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

DEADLINE=${DEADLINE:-100000}  # seconds from the start after which no step starts and caps shrink to fit
step() {  # step NAME SECONDS COMMAND...: run with a cap, keep the log, note the exit status
  local name=$1 cap=$2; shift 2
  local left=$(( DEADLINE - ($(date +%s) - T0) ))
  if [ "$left" -lt 15 ]; then stamp "skip $name (deadline)"; return; fi
  if [ "$cap" -gt "$left" ]; then cap=$left; fi
  stamp "start $name (cap $cap s)"
  timeout "$cap" "$@" > "$LOG/$name.log" 2>&1
  local rc=$?
  stamp "end $name rc=$rc"
  tail -25 "$LOG/$name.log" >> "$OUT/summary.txt"
}

archive_runs() {  # everything small from the run folders (no weights), one archive
  tar czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.safetensors' --exclude='*.onnx' --exclude='*.pt' . 2>/dev/null
}

for what in "$@"; do
  case $what in
    bench)
      step after 150 python3 bench/train.py --device cuda --data synthetic --phase full expand_2 --batch 256 1024 \
        --steps 15 --warmup 6 --threads 8 --json "$LOG/after.json"
      ;;
    before)
      if [ -d .gpu/base ]; then  # the commit before this work, same warm-up, on the same GPU
        step before_full 60 env BENCH_WARMUP=6 PYTHONPATH="$PWD/.gpu/base/src${SITE:+:$SITE}" python3 \
          .gpu/base/bench/train.py --device cuda --data synthetic --batch 256 --steps 15 --phase full --threads 8
        step before_expand_2 60 env BENCH_WARMUP=2 PYTHONPATH="$PWD/.gpu/base/src${SITE:+:$SITE}" python3 \
          .gpu/base/bench/train.py --device cuda --data synthetic --batch 256 --steps 4 --phase expand_2 --threads 8
      fi
      ;;
    ofa)
      step ofa 100 python3 bench/train_vs_ofa.py --device cuda --batch 256 --steps 8 --rounds 2 --threads 8 \
        --json "$LOG/ofa.json"
      ;;
    warmup)
      step warmup 120 python3 bench/gpu_warmup.py --device cuda --batch 1024
      ;;
    tests)
      step tests 150 python3 -m pytest -q -x tests/test_gpu_path.py
      ;;
    nccl)
      step nccl_1 45 torchrun --standalone --nproc_per_node=1 bench/nccl_check.py
      step nccl_2 45 torchrun --standalone --nproc_per_node=2 bench/nccl_check.py
      ;;
    trial)
      step trial 170 python3 -m natv2 run --preset cifar10-gpu --run-dir "$RUNS/trial" --set train.epochs_scale=0.005 \
        --set search.iterations=1 --set finetune.max_epochs=1 --set finetune.max_subnets=2 --set train.phase_eval_random=2
      ;;
    preset)
      step preset "${PRESET_CAP:-400}" python3 -m natv2 run --preset cifar10-gpu --run-dir "$RUNS/c10gpu"
      archive_runs
      ;;
    policies)  # issue 11: the search-policy comparison on the cifar10 preset's supernet, 18 runs at once
      if [ -f .gpu/supernet/supernet.safetensors ]; then
        step decode 60 python3 -c "from natv2.data import DataConfig, load_dataset; load_dataset(DataConfig(name='cifar10', decode_workers=16))"
        step policies "${POLICY_CAP:-420}" env NATV2="python3 -m natv2" SUPERNET=.gpu/supernet/supernet OUTDIR="$RUNS/policies" \
          JOBS=18 EXTRA="--set run.device=cuda" bash docs/scripts/policy_experiment.sh
        tar czf "$OUT/policies.tgz" -C "$RUNS" --exclude='*.safetensors' policies 2>/dev/null
      else
        stamp "skip policies: no .gpu/supernet/supernet.safetensors (copy the cifar10 run's train/supernet.* there)"
      fi
      ;;
    probe)  # the policy comparison's machinery on the GPU, shortened, on a random-weight supernet (no checkpoint needed)
      step decode 60 python3 -c "from natv2.data import DataConfig, load_dataset; load_dataset(DataConfig(name='cifar10', decode_workers=16))"
      step probe "${PROBE_CAP:-150}" env NATV2="python3 -m natv2" OUTDIR="$RUNS/probe" JOBS=9 SEEDS=0 MODES="noadapt adapt" \
        EXTRA="--random-init ofav2_ee_d --set run.device=cuda --set search.iterations=2 --set search.candidates_per_iter=10" \
        bash docs/scripts/policy_experiment.sh
      tail -n 4 "$RUNS"/probe/*.log >> "$OUT/summary.txt"
      tar czf "$OUT/probe.tgz" -C "$RUNS" --exclude='*.safetensors' probe 2>/dev/null
      ;;
    suite)  # the default test tier with the GPU hidden (as CI runs it), in parallel shards of test files
      stamp "start suite"
      i=0; for f in $(ls -S tests/test_*.py); do echo "$f" >> "$LOG/shard$((i % ${SHARDS:-5}))"; i=$((i + 1)); done
      for sh in "$LOG"/shard*; do
        ( CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=2 NATV2_TEST_DATA="$NATV2_DATA" timeout "${SUITE_CAP:-280}" \
          python3 -m pytest -q -p no:cacheprovider $(cat "$sh") > "$sh.log" 2>&1; echo "rc=$?" >> "$sh.log" ) &
      done
      wait
      for sh in "$LOG"/shard*.log; do tail -n 3 "$sh" | tee -a "$OUT/summary.txt"; done
      grep -h "^FAILED\|^ERROR" "$LOG"/shard*.log | tee -a "$OUT/summary.txt"
      stamp "end suite"
      ;;
    quickstart)  # the quickstart preset on this machine's CPU (accuracy; its time here says nothing of 2 cores)
      step quickstart "${QS_CAP:-300}" env CUDA_VISIBLE_DEVICES= python3 -m natv2 run --preset quickstart \
        --set run.threads="${QS_THREADS:-4}" --run-dir "$RUNS/quickstart"
      ;;
    disk)  # peak disk use of the smoke preset's run directory (du every 0.5 s)
      ( while sleep 0.5; do du -sk "$RUNS/smoke" 2>/dev/null | cut -f1; done > "$LOG/disk.txt" ) &
      sampler=$!
      step smoke 120 env CUDA_VISIBLE_DEVICES= python3 -m natv2 run --preset smoke --run-dir "$RUNS/smoke"
      kill $sampler
      stamp "smoke run dir: peak $(sort -n "$LOG/disk.txt" | tail -1) KB, at the end $(du -sk "$RUNS/smoke" | cut -f1) KB"
      ;;
    *) stamp "unknown step $what" ;;
  esac
done
archive_runs
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$LOG"
stamp "all done"
