#!/usr/bin/env bash
# The transfer comparison of docs/RESULTS.md ("Transfer"), one target at a time, each arm one command
# that resumes when started again; runs one after another (each uses every core).
#   SOURCE=runs/tin-source TARGET=imagenette docs/scripts/transfer_experiment.sh            # all arms
#   ARMS="transfer scratch" SOURCE=... TARGET=cifar10 docs/scripts/transfer_experiment.sh
# Arms: transfer, scratch, fixed-arch (the max subnet), fixed-subnet (one subnet of about natv2's pick's size).
# The source itself: natv2 train-supernet --preset tiny-imagenet-cpu --run-dir runs/tin-source
# Afterwards: python docs/scripts/transfer_summary.py --target imagenette --transfer runs/transfer/imagenette-transfer ...
set -u
NATV2=${NATV2:-.venv/bin/natv2}
SOURCE=${SOURCE:?set SOURCE to the source run directory}
TARGET=${TARGET:-imagenette}
OUTDIR=${OUTDIR:-runs/transfer}
EXTRA=${EXTRA:-}
# SCRATCH_R: the scratch arm trains at the resolutions the transfer run searches on that target
case $TARGET in
  imagenette) DATA="--set data.name=imagefolder --set data.root=${NATV2_DATA:?set NATV2_DATA}/imagenette"; SCRATCH_R="" ;;
  cifar10) DATA="--set data.name=cifar10"; SCRATCH_R="--set train.space.r=[32]" ;;
  *) echo "unknown TARGET $TARGET (imagenette, cifar10)"; exit 2 ;;
esac
mkdir -p "$OUTDIR"
for arm in ${ARMS:-transfer scratch fixed-arch}; do
  run="$OUTDIR/$TARGET-$arm"
  case $arm in
    transfer) cmd="run --preset transfer --source $SOURCE" ;;
    scratch) cmd="run --config docs/configs/transfer-scratch.yaml $SCRATCH_R" ;;
    fixed-arch) cmd="train-supernet --resume --config docs/configs/transfer-fixed-arch.yaml --source $SOURCE" ;;
    fixed-subnet) cmd="train-supernet --resume --config docs/configs/transfer-fixed-subnet.yaml --source $SOURCE" ;;
  esac
  t0=$(date +%s)
  # shellcheck disable=SC2086
  $NATV2 $cmd $DATA --set run.progress=false $EXTRA --run-dir "$run" > "$run.log" 2>&1
  rc=$?
  if [ $rc = 0 ] && [ "$arm" = fixed-subnet ]; then  # its one subnet, fine-tuned from the source's weights
    $NATV2 finetune "$run" >> "$run.log" 2>&1
    rc=$?
  fi
  echo "$(date +%T) $TARGET-$arm exit $rc after $(( $(date +%s) - t0 )) s"
done
