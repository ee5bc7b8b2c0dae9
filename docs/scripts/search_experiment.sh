#!/usr/bin/env bash
# The CIFAR-10 CPU-scale search comparison (docs/RESULTS.md): natv2 / nat / random x seeds 0-2, two
# runs at a time (one thread each). The natv2 seed-0 run is the whole pipeline (`natv2 run`: search ->
# finetune -> export -> report); the others are `natv2 search`. Every run resumes if started again.
# Needs the supernet of src/natv2/train/configs/cifar10-cpu-1h.yaml in runs/c10-ofav2-ee-d.
#   docs/scripts/search_experiment.sh                  # all nine runs
#   JOBS="nat:1 random:1" docs/scripts/search_experiment.sh
set -u
export NATV2=${NATV2:-.venv/bin/natv2}
export NATV2_DATA=${NATV2_DATA:-$(realpath ../shared/data)}

job() {  # POLICY:SEED
  local p=${1%:*} s=${1#*:} cmd=search args
  case $p in
    natv2) args="--set search.archive_size=30 --set search.preprocess_multiplier=2 --set search.top_n=15" ;;
    nat) args="--set search.archive_size=60 --set search.top_n=30" ;;
    random) args="--set search.archive_size=60 --set search.top_n=30 --set search.preprocess=false" ;;
  esac
  if [[ $p == natv2 && $s == 0 ]]; then cmd=run; args="$args --set search_stage.final_test=true"; fi
  $NATV2 $cmd --config docs/configs/c10-search-cpu.yaml $args --set search.policy=$p --set run.seed=$s \
    --run-dir runs/s-$p-$s > runs/s-$p-$s.log 2>&1
  echo "$(date +%T) s-$p-$s exit $?"
}
export -f job
mkdir -p runs
printf '%s\n' ${JOBS:-natv2:0 nat:0 random:0 nat:1 random:1 nat:2 random:2 natv2:1 natv2:2} | xargs -P 2 -I{} bash -c 'job {}'
