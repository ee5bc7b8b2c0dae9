#!/usr/bin/env bash
# The search-policy comparison of docs/RESULTS.md (issue 11): natv2 / nat / random x seeds 0-2 on one
# trained supernet, without adaptation (runs pn-*) and with it (runs pa-*), JOBS runs at a time, one
# torch thread each. Every run is a `natv2 search` and resumes when started again.
#   SUPERNET=runs/c10/train/supernet docs/scripts/policy_experiment.sh            # both modes
#   MODES=noadapt JOBS=3 SUPERNET=... docs/scripts/policy_experiment.sh
#   MODES=adapt CONFIG=docs/configs/c10-policies-adapt.yaml SUPERNET=... docs/scripts/policy_experiment.sh  # as in RESULTS.md
#   JOBS=18 EXTRA="--set run.device=cuda" SUPERNET=... docs/scripts/policy_experiment.sh   # one GPU, 16+ cores
#   POLICIES="natv2x0 natv2x10" ...   # NATv2's pre-processing multiplier (0: off) instead of the policies
#   docs/scripts/search_hv.py runs/policies/pn-*    # tables and plots afterwards
# Extra settings for every run go in EXTRA (e.g. EXTRA="--set run.device=cuda").
set -u
export NATV2=${NATV2:-.venv/bin/natv2}
export SUPERNET=${SUPERNET:-}  # the trained supernet checkpoint, e.g. runs/c10/train/supernet (empty: EXTRA names one)
export OUTDIR=${OUTDIR:-runs/policies}
export CONFIG=${CONFIG:-docs/configs/c10-policies.yaml}
export EXTRA=${EXTRA:-}
mkdir -p "$OUTDIR"

job() {  # MODE:POLICY:SEED
  local mode=${1%%:*} rest=${1#*:}
  local p=${rest%:*} s=${rest#*:} prefix args
  case $p in
    natv2) args="--set search.archive_size=50 --set search.preprocess_multiplier=3 --set search.top_n=25" ;;
    natv2x*) args="--set search.archive_size=50 --set search.preprocess_multiplier=${p#natv2x} --set search.top_n=25"
      p=natv2 ;;  # NATv2's pre-processing at another multiplier (natv2x0: off, natv2x10: 500 evaluated)
    nat) args="--set search.archive_size=150 --set search.top_n=75" ;;
    random) args="--set search.archive_size=150 --set search.top_n=75 --set search.preprocess=false" ;;
  esac
  case $mode in
    noadapt) prefix=pn; args="$args --set search_stage.adapt.enabled=false" ;;
    adapt) prefix=pa ;;
  esac
  local name=$prefix-${1#*:}; name=${name/:/-}
  local t0=$(date +%s)
  # shellcheck disable=SC2086
  $NATV2 search --config "$CONFIG" ${SUPERNET:+--supernet "$SUPERNET"} $args $EXTRA --set search.policy=$p --set run.seed=$s \
    --run-dir "$OUTDIR/$name" > "$OUTDIR/$name.log" 2>&1
  local rc=$?
  echo "$(date +%T) $name exit $rc after $(( $(date +%s) - t0 )) s"
}
export -f job
for mode in ${MODES:-noadapt adapt}; do
  for p in ${POLICIES:-natv2 nat random}; do for s in ${SEEDS:-0 1 2}; do echo "$mode:$p:$s"; done; done
done | xargs -P "${JOBS:-2}" -I{} bash -c 'job {}'  # one pool: with JOBS >= 18 every run starts at once
