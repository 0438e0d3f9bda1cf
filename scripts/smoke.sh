#!/usr/bin/env bash
# Real-AWS smoke test: deploy the stack under a per-run name, render one fixture at several
# chunk counts, compare every output with a local render, gate, tear everything down.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FIXTURE=$ROOT/examples/title-card
CHUNK_COUNTS=2,4,8
PSNR_THRESHOLD=40
MIN_PSNR_THRESHOLD=30
ARTIFACTS=""
BASELINE=""

usage() {
  cat <<USAGE
usage: scripts/smoke.sh [options]

Deploys sam/template.yaml to your AWS account as a new stack of its own, uploads one
fixture, renders it through the state machine at several chunk counts, downloads each
output and its execution histories (parent and every chunk's child execution), compares
each output with a local one-chunk render by this package (frame count, fps, per-frame
timestamps and duration; per-frame PSNR; seams at the chunk boundaries; audio duration,
layout and residual), writes results.json, gates, and tears the stack down.

what it touches: only a stack it creates (a free name starting hfsmoke-, refused if it
exists) and buckets it creates, all tagged $TAG_KEY=<this run's id>; the teardown
deletes or empties only what carries that tag with this run's id. sam runs with a config
file of the script's own (your sam/samconfig.toml is not read) and SAM_CLI_TELEMETRY=0.
needs: aws cli $MIN_AWS_V2+ (v2) or $MIN_AWS_V1+ (v1), SAM CLI $MIN_SAM+ (checked before any
AWS change), and this package's .venv (make setup).

options:
  --fixture DIR            composition to render (default: examples/title-card)
  --chunk-counts LIST      comma-separated chunk counts (default: $CHUNK_COUNTS)
  --psnr-threshold DB      fail below this PSNR, pooled over the frames that differ from
                           the baseline (identical frames are counted apart) (default: $PSNR_THRESHOLD)
  --min-psnr-threshold DB  fail when any frame is below this (default: $MIN_PSNR_THRESHOLD)
  --profile NAME           AWS profile (default: \$AWS_PROFILE or the standard credential chain)
  --region NAME            AWS region (default: \$AWS_REGION, \$AWS_DEFAULT_REGION or us-east-1)
  --stack-name NAME        override the per-run name (hfsmoke-MMDDhhmmss-NNNN): it must start
                           with hfsmoke-, match ^[a-z][a-z0-9-]{1,30}$ (it is also the
                           template's ProjectName) and be free (no such stack yet)
  --memory-mb MB           LambdaMemoryMb (default: $MEMORY_MB; 2048-10240)
  --reserved-concurrency N reserve N concurrent executions for the function, a hard cap on
                           parallel chunks and cost (default: $RESERVED_CONCURRENCY = unreserved)
  --map-max-concurrency N  chunks rendering at once (default: $MAP_MAX_CONCURRENCY, a new account's quota)
  --timeout-minutes M      stop an execution still running after M minutes (default: $TIMEOUT_MINUTES)
  --baseline FILE          use this local render as the baseline instead of rendering one
  --artifacts DIR          where outputs go; a new or empty directory (default: out/smoke-<stack>/)
  --skip-build             do not run 'make zip' (build/dist/hyperframes-lambda.zip exists)
  --keep-stack             do not tear down (the stack and its buckets keep existing)
  -h, --help               this text

artifacts: baseline.mp4, N<n>/output.mp4, N<n>/describe.json, N<n>/history-*.json,
runs.jsonl, results.json (settings, per-output PSNR/seams/audio/cost, gate), results.csv.

exit codes:
  0    every output rendered and passed (timing, PSNR, no seam, audio OK)
  1    the gate failed: an execution failed, an output is missing, frame count, fps,
       timestamps or duration differ from the baseline, PSNR below a threshold, a visible
       seam, or audio DRIFT/duration/layout/stream mismatch (results.json says which)
  2    bad arguments (checked before anything starts: numbers, names, directories)
  3    pre-flight failed (a tool or its version, the package, AWS credentials, or the
       stack or deploy-bucket name is taken); nothing in the account was changed
  4    the run could not complete before the gate (build, deploy, upload, an AWS call)
  5    the teardown could not verify that everything was removed (it lists what is left
       as LEAK lines)
  130  interrupted (SIGINT/SIGTERM); the teardown still ran
  The teardown (stop running executions, sam delete, empty and remove the render bucket,
  found from the stack's resources also after a rollback, and the deploy bucket; check
  that the stack, buckets and log groups are gone) runs on every exit unless --keep-stack.
  Once it started, Ctrl-C and TERM are logged and ignored until it is done.

cost (us-east-1 list prices, x86_64; printed per run from the execution histories):
  Lambda      \$0.0000166667 per GB-second (memory x billed duration) + \$0.0000000309 per
              GB-second of ephemeral storage beyond 512 MB (the template sets 10240 MB) +
              \$0.20 per million requests: at 10240 MB a minute of rendering is \$0.0100
              + \$0.000018 of storage. An invocation still running when an execution is
              stopped is billed until it ends: counted up to the function's timeout.
  Step Fns    \$0.025 per 1,000 state transitions (~13 per execution + ~1 per chunk, + retries).
  S3          \$0.005 per 1,000 PUTs, \$0.0004 per 1,000 GETs (~N+4 and ~2N+4 per render).
  A default smoke (title-card, 2+4+8 chunks) is a few cents; deploy and teardown are free.
USAGE
}

need_value() { [[ $# -ge 2 && -n $2 ]] || die "$EXIT_USAGE" "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --fixture) need_value "$@"; FIXTURE=$2; shift 2 ;;
    --chunk-counts) need_value "$@"; CHUNK_COUNTS=$2; shift 2 ;;
    --psnr-threshold) need_value "$@"; PSNR_THRESHOLD=$2; shift 2 ;;
    --min-psnr-threshold) need_value "$@"; MIN_PSNR_THRESHOLD=$2; shift 2 ;;
    --profile) need_value "$@"; PROFILE=$2; shift 2 ;;
    --region) need_value "$@"; REGION=$2; shift 2 ;;
    --stack-name) need_value "$@"; STACK_NAME=$2; shift 2 ;;
    --memory-mb) need_value "$@"; MEMORY_MB=$2; shift 2 ;;
    --reserved-concurrency) need_value "$@"; RESERVED_CONCURRENCY=$2; shift 2 ;;
    --map-max-concurrency) need_value "$@"; MAP_MAX_CONCURRENCY=$2; shift 2 ;;
    --timeout-minutes) need_value "$@"; TIMEOUT_MINUTES=$2; shift 2 ;;
    --baseline) need_value "$@"; BASELINE=$2; shift 2 ;;
    --artifacts) need_value "$@"; ARTIFACTS=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --keep-stack) KEEP_STACK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "$EXIT_USAGE" "unknown option $1 (see --help)" ;;
  esac
done

[[ -d $FIXTURE ]] || die "$EXIT_USAGE" "--fixture $FIXTURE is not a directory"
[[ $CHUNK_COUNTS =~ ^[1-9][0-9]{0,4}(,[1-9][0-9]{0,4})*$ ]] || die "$EXIT_USAGE" "--chunk-counts must be like 2,4,8"
[[ -z $BASELINE || -f $BASELINE ]] || die "$EXIT_USAGE" "--baseline $BASELINE is not a file"
need_number --psnr-threshold "$PSNR_THRESHOLD"
need_number --min-psnr-threshold "$MIN_PSNR_THRESHOLD"
need_int --memory-mb "$MEMORY_MB" 2048 10240
need_int --reserved-concurrency "$RESERVED_CONCURRENCY" -1
need_int --map-max-concurrency "$MAP_MAX_CONCURRENCY" 0 10000
need_int --timeout-minutes "$TIMEOUT_MINUTES" 1 60
if [[ -n $STACK_NAME ]]; then
  check_stack_name hfsmoke
else
  new_run_names hfsmoke
fi
ARTIFACTS=${ARTIFACTS:-$ROOT/out/smoke-$STACK_NAME}
fresh_artifacts "$ARTIFACTS"
FIXTURE_NAME=$(basename "$FIXTURE")
RUNS=$ARTIFACTS/runs.jsonl

install_traps
preflight_aws

# The baseline first: no point deploying if the fixture does not render here.
if [[ -n $BASELINE ]]; then
  cp "$BASELINE" "$ARTIFACTS/baseline.mp4"
  "$PY" -m hyperframes_lambda.compare.runs record --results "$RUNS" --fixture "$FIXTURE_NAME" \
    --side local --output "$ARTIFACTS/baseline.mp4" --seconds-measure "given with --baseline (not timed)"
else
  log "local baseline: one chunk, in process"
  start=$(now_ms)
  if run_child "$PY" -m hyperframes_lambda.cli render "$FIXTURE" -o "$ARTIFACTS/baseline.mp4" --chunks 1 --quiet >"$ARTIFACTS/baseline.log" 2>&1; then
    failed=()
  else
    failed=(--failed "local render failed: see $ARTIFACTS/baseline.log")
  fi
  "$PY" -m hyperframes_lambda.compare.runs record --results "$RUNS" --fixture "$FIXTURE_NAME" \
    --side local --output "$ARTIFACTS/baseline.mp4" --seconds "$(seconds_since "$start")" \
    --seconds-measure "process wall clock of 'hyperframes-lambda render --chunks 1'" "${failed[@]}"
fi
[[ -f $ARTIFACTS/baseline.mp4 ]] || die "$EXIT_INCOMPLETE" "no local baseline (see $ARTIFACTS/baseline.log)"
FRAMES=$("$PY" -m hyperframes_lambda.compare.runs count-frames "$ARTIFACTS/baseline.mp4")
log "baseline: $FRAMES frames"

deploy_stack
PROJECT_KEY="$FIXTURE_NAME-$STACK_NAME.tar.gz"
upload_project "$FIXTURE" "$PROJECT_KEY"

SIDES=()
IFS=, read -r -a COUNTS <<<"$CHUNK_COUNTS"
for n in "${COUNTS[@]}"; do
  chunk_frames=$(((FRAMES + n - 1) / n))
  dir=$ARTIFACTS/N$n
  run_execution "smoke-n$n-$STACK_NAME" "$PROJECT_KEY" "$chunk_frames" "$n" "$dir"
  "$PY" -m hyperframes_lambda.compare.runs record --results "$RUNS" --fixture "$FIXTURE_NAME" \
    --side "lambda-N$n" --describe "$dir/describe.json" --history "$dir/history-parent.json" \
    --chunk-history "$dir"/history-chunk-*.json --region "$REGION" \
    --output "$dir/output.mp4" --baseline "$ARTIFACTS/baseline.mp4" --chunks "$n" \
    --chunk-frames "$chunk_frames" --memory-mb "$MEMORY_MB"
  SIDES+=("lambda-N$n")
done

SIDE_LIST=$(IFS=,; echo "${SIDES[*]}")
if "$PY" -m hyperframes_lambda.compare.runs summarize --results "$RUNS" --fixtures "$FIXTURE_NAME" \
  --baseline-side local --sides "$SIDE_LIST" --iterations 1 \
  --psnr-threshold "$PSNR_THRESHOLD" --min-psnr-threshold "$MIN_PSNR_THRESHOLD" \
  --csv "$ARTIFACTS/results.csv" --json "$ARTIFACTS/results.json" \
  --timing-note "timing: local = process wall clock of a one-chunk render (interpreter and browser start, plan, capture, encode, assemble); lambda = Step Functions execution start->stop (plan, chunks incl. cold starts and S3 transfers, assemble; not the project upload or output download)"; then
  GATE=0
else
  GATE=$EXIT_GATE
fi
GATE_DONE=1
log "results: $ARTIFACTS/results.json"
exit "$GATE"
