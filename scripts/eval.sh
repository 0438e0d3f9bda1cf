#!/usr/bin/env bash
# Eval: is a chunked render (on Lambda, or --local-only in worker processes here) faster
# than a one-chunk local render, and visually equivalent? Several fixtures x --iterations,
# medians, PSNR / seams / audio residual against the one-chunk render, CSV + table, gate.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOCAL_ONLY=0
ITERATIONS=3
CHUNKS=4
PARALLEL=2
FIXTURES_DIR=""
FIXTURE_LIST=""
EXAMPLES=1
PSNR_THRESHOLD=40
MIN_PSNR_THRESHOLD=30
AUDIO_THRESHOLD=-50
BASELINE_DIR=""
ARTIFACTS=""

usage() {
  cat <<USAGE
usage: scripts/eval.sh [--local-only] [options]

For every fixture, --iterations times: a one-chunk render in process by this package (the
baseline), and a chunked render of the same staged copy: on AWS through a per-run stack
(deployed once, torn down at the end), or with --local-only by
'python -m hyperframes_lambda.local --parallel P' (the state machine's flow in worker
processes; no AWS at all). Reports render times (first run and the median of the later
ones apart), the speedup, frame count / fps / timestamps / duration checks, per-frame
PSNR (pooled over the frames that differ, and the worst frame), seams at the chunk
boundaries and the audio duration, layout and residual of each chunked output against
the first baseline render, as an aligned table and CSV; gates.

AWS: as scripts/smoke.sh (see its --help): a new stack of its own (hfeval-, tagged
$TAG_KEY=<this run's id>), sam with the script's own config and SAM_CLI_TELEMETRY=0,
aws cli $MIN_AWS_V2+ (v2) or $MIN_AWS_V1+ (v1) and SAM CLI $MIN_SAM+ checked before any AWS change.

fixtures: the examples (examples/*; --no-examples drops them) plus the compositions in
--fixtures-dir DIR (every subdirectory with index.html, or those named by --fixtures).
A fixture that is missing or fails to render fails the gate; it is never skipped.

timing (like with like: both sides are render time, medians of the iterations):
  local-only: both numbers are the process wall clock of the CLI command: interpreter and
              browser start, plan, capture, encode, assemble, output written to disk.
  AWS:        local = that same wall clock of the one-chunk render; lambda = the Step
              Functions execution's startDate -> stopDate (plan, chunks including Lambda
              cold starts and S3 transfers inside the workflow, assemble). Neither includes
              uploading the project (once per fixture) or downloading the output.
  first/later: iteration 1 and the median of iterations 2+ are reported apart: on Lambda
              the first run starts cold, later ones may reuse warm containers (and their
              pooled browser), while every local run starts cold. The speedups compare
              each with the local median.

options:
  --local-only             no AWS: chunked renders with python -m hyperframes_lambda.local
  --iterations N           renders per fixture and side; medians are reported (default: $ITERATIONS)
  --chunks N               chunks of the chunked render (default: $CHUNKS)
  --parallel P             --local-only: worker processes (default: $PARALLEL)
  --fixtures-dir DIR       more compositions (e.g. ../shared/conformance/fixtures)
  --fixtures LIST          comma-separated names, looked up in --fixtures-dir, then examples/
  --no-examples            do not add examples/*
  --psnr-threshold DB      fail below this PSNR, pooled over the frames that differ (default: $PSNR_THRESHOLD)
  --min-psnr-threshold DB  fail when any frame is below this (default: $MIN_PSNR_THRESHOLD)
  --audio-threshold DBFS   audio DRIFT above this residual RMS (default: $AUDIO_THRESHOLD)
  --artifacts DIR          outputs, runs.jsonl, results.json, results.csv; a new or empty
                           directory (default: out/eval-<run>/)
  AWS only:
  --profile NAME, --region NAME, --stack-name NAME (hfeval-...), --memory-mb MB (default: $MEMORY_MB),
  --reserved-concurrency N (default: $RESERVED_CONCURRENCY = unreserved; N caps parallel chunks and cost),
  --map-max-concurrency N (default: $MAP_MAX_CONCURRENCY), --timeout-minutes M (default: $TIMEOUT_MINUTES),
  --skip-build, --keep-stack: as in scripts/smoke.sh --help
  --baseline-dir DIR       use DIR/<fixture>.mp4 as the local render (not timed) instead of rendering
  -h, --help               this text

exit codes:
  0    every fixture rendered on both sides, every iteration, and passed
  1    the gate failed (a failed or missing render, frame count / fps / timestamps /
       duration unlike the baseline, PSNR below a threshold, a seam, audio DRIFT or a
       duration, layout or stream mismatch); the table and results.json say which
  2    bad arguments (checked before anything starts)
  3    pre-flight failed (a tool or its version, the package, AWS credentials, or the
       stack or deploy-bucket name is taken); nothing in the account was changed
  4    the run could not complete before the gate (build, deploy, upload, an AWS call)
  5    (AWS) the teardown could not verify that everything was removed
  130  interrupted (SIGINT/SIGTERM); the teardown still ran

cost (AWS; us-east-1 list prices; each run's actual cost is computed from its execution
histories, billed duration x memory, and printed per fixture):
  Lambda      \$0.0000166667 per GB-second + \$0.0000000309 per GB-second of ephemeral
              storage beyond 512 MB + \$0.20 per million requests (10240 MB: \$0.0100 +
              \$0.000018 storage per minute of rendering, summed over all chunks; an
              invocation left running by a stopped execution counted up to its timeout).
  Step Fns    \$0.025 per 1,000 state transitions (~13 per execution + ~1 per chunk, + retries).
  S3          \$0.005 per 1,000 PUTs, \$0.0004 per 1,000 GETs (~N+4 and ~2N+4 per render).
  An eval of the two examples x 3 iterations x 4 chunks is a few cents. --local-only is free.
USAGE
}

need_value() { [[ $# -ge 2 && -n $2 ]] || die "$EXIT_USAGE" "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --local-only) LOCAL_ONLY=1; shift ;;
    --iterations) need_value "$@"; ITERATIONS=$2; shift 2 ;;
    --chunks) need_value "$@"; CHUNKS=$2; shift 2 ;;
    --parallel) need_value "$@"; PARALLEL=$2; shift 2 ;;
    --fixtures-dir) need_value "$@"; FIXTURES_DIR=$2; shift 2 ;;
    --fixtures) need_value "$@"; FIXTURE_LIST=$2; shift 2 ;;
    --no-examples) EXAMPLES=0; shift ;;
    --psnr-threshold) need_value "$@"; PSNR_THRESHOLD=$2; shift 2 ;;
    --min-psnr-threshold) need_value "$@"; MIN_PSNR_THRESHOLD=$2; shift 2 ;;
    --audio-threshold) need_value "$@"; AUDIO_THRESHOLD=$2; shift 2 ;;
    --artifacts) need_value "$@"; ARTIFACTS=$2; shift 2 ;;
    --baseline-dir) need_value "$@"; BASELINE_DIR=$2; shift 2 ;;
    --profile) need_value "$@"; PROFILE=$2; shift 2 ;;
    --region) need_value "$@"; REGION=$2; shift 2 ;;
    --stack-name) need_value "$@"; STACK_NAME=$2; shift 2 ;;
    --memory-mb) need_value "$@"; MEMORY_MB=$2; shift 2 ;;
    --reserved-concurrency) need_value "$@"; RESERVED_CONCURRENCY=$2; shift 2 ;;
    --map-max-concurrency) need_value "$@"; MAP_MAX_CONCURRENCY=$2; shift 2 ;;
    --timeout-minutes) need_value "$@"; TIMEOUT_MINUTES=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --keep-stack) KEEP_STACK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "$EXIT_USAGE" "unknown option $1 (see --help)" ;;
  esac
done

need_int --iterations "$ITERATIONS" 1 1000
need_int --chunks "$CHUNKS" 1 10000
need_int --parallel "$PARALLEL" 1 256
need_number --psnr-threshold "$PSNR_THRESHOLD"
need_number --min-psnr-threshold "$MIN_PSNR_THRESHOLD"
need_number --audio-threshold "$AUDIO_THRESHOLD"
need_int --memory-mb "$MEMORY_MB" 2048 10240
need_int --reserved-concurrency "$RESERVED_CONCURRENCY" -1
need_int --map-max-concurrency "$MAP_MAX_CONCURRENCY" 0 10000
need_int --timeout-minutes "$TIMEOUT_MINUTES" 1 60
[[ -z $FIXTURES_DIR || -d $FIXTURES_DIR ]] || die "$EXIT_USAGE" "--fixtures-dir $FIXTURES_DIR is not a directory"
[[ -z $BASELINE_DIR || -d $BASELINE_DIR ]] || die "$EXIT_USAGE" "--baseline-dir $BASELINE_DIR is not a directory"

# --- the fixtures: names and directories (a name whose directory is missing stays, and
# fails the gate) ------------------------------------------------------------------------
NAMES=()
DIRS=()
add_fixture() { NAMES+=("$1"); DIRS+=("$2"); }
if [[ -n $FIXTURE_LIST ]]; then
  IFS=, read -r -a wanted <<<"$FIXTURE_LIST"
  for name in "${wanted[@]}"; do
    # In --fixtures-dir first, then examples/ (a name found in neither stays, and fails).
    if [[ -n $FIXTURES_DIR && ! -d $FIXTURES_DIR/$name && -d $ROOT/examples/$name ]]; then
      add_fixture "$name" "$ROOT/examples/$name"
    else
      add_fixture "$name" "${FIXTURES_DIR:-$ROOT/examples}/$name"
    fi
  done
elif [[ -n $FIXTURES_DIR ]]; then
  for dir in "$FIXTURES_DIR"/*/; do
    [[ -f $dir/index.html ]] && add_fixture "$(basename "$dir")" "${dir%/}"
  done
fi
if [[ $EXAMPLES -eq 1 && ! (-n $FIXTURE_LIST && -z $FIXTURES_DIR) ]]; then
  for dir in "$ROOT"/examples/*/; do
    [[ -f $dir/index.html ]] && add_fixture "$(basename "$dir")" "${dir%/}"
  done
fi
[[ ${#NAMES[@]} -gt 0 ]] || die "$EXIT_USAGE" "no fixtures (see --fixtures-dir, --fixtures)"

if [[ $LOCAL_ONLY -eq 1 ]]; then
  RUN_NAME=local-$(date -u +%m%d%H%M%S)
  BASE_SIDE=one-chunk
  CHUNKED_SIDE=local-p$PARALLEL
  TIMING="timing: medians of $ITERATIONS; both sides = process wall clock of the CLI command (interpreter and browser start, plan, capture, encode, assemble, output written)"
else
  if [[ -n $STACK_NAME ]]; then
    check_stack_name hfeval
  else
    new_run_names hfeval
  fi
  RUN_NAME=$STACK_NAME
  BASE_SIDE=local
  CHUNKED_SIDE=lambda-N$CHUNKS
  TIMING="timing: medians of $ITERATIONS; local = process wall clock of a one-chunk render; lambda = Step Functions execution start->stop (plan, chunks incl. cold starts and S3 transfers, assemble; not the project upload or output download)"
fi
ARTIFACTS=${ARTIFACTS:-$ROOT/out/eval-$RUN_NAME}
fresh_artifacts "$ARTIFACTS"
RUNS=$ARTIFACTS/runs.jsonl

install_traps
if [[ $LOCAL_ONLY -eq 0 ]]; then
  preflight_aws
  deploy_stack
else
  "$PY" -c 'import hyperframes_lambda.compare' 2>/dev/null ||
    die "$EXIT_PREFLIGHT" "pre-flight: $PY cannot import hyperframes_lambda (run 'make setup' or set HF_PYTHON)"
fi
log "${#NAMES[@]} fixtures x $ITERATIONS iterations: $BASE_SIDE vs $CHUNKED_SIDE"

record() { "$PY" -m hyperframes_lambda.compare.runs record --results "$RUNS" --audio-threshold "$AUDIO_THRESHOLD" "$@"; }

# baseline_render NAME STAGED OUT ITERATION: the one-chunk render, timed and recorded.
baseline_render() {
  local name=$1 staged=$2 out=$3 i=$4 start
  if [[ -n $BASELINE_DIR ]]; then
    if [[ -f $BASELINE_DIR/$name.mp4 ]]; then
      cp "$BASELINE_DIR/$name.mp4" "$out"
      record --fixture "$name" --side "$BASE_SIDE" --iteration "$i" --output "$out" \
        --seconds-measure "given with --baseline-dir (not timed)"
    else
      record --fixture "$name" --side "$BASE_SIDE" --iteration "$i" --failed "no $BASELINE_DIR/$name.mp4"
    fi
    return 0
  fi
  start=$(now_ms)
  if run_child "$PY" -m hyperframes_lambda.cli render "$staged" -o "$out" --chunks 1 --quiet >"$out.log" 2>&1; then
    record --fixture "$name" --side "$BASE_SIDE" --iteration "$i" --output "$out" --seconds "$(seconds_since "$start")"
  else
    record --fixture "$name" --side "$BASE_SIDE" --iteration "$i" --failed "one-chunk render failed: $(tail -n 1 "$out.log")"
  fi
}

for index in "${!NAMES[@]}"; do
  name=${NAMES[$index]}
  src=${DIRS[$index]}
  dir=$ARTIFACTS/$name
  staged=$ARTIFACTS/staged/$name
  if [[ ! -d $src ]]; then
    log "$name: no such fixture directory $src"
    record --fixture "$name" --side "$BASE_SIDE" --failed "no such fixture directory: $src"
    continue
  fi
  # A self-contained copy (conformance fixtures link into siblings such as _media/; see
  # stage_fixture.py). Both sides render the same copy.
  mkdir -p "$dir" "$(dirname "$staged")"
  if ! "$PY" "$ROOT/scripts/stage_fixture.py" "$src" "$staged" 2>"$dir/stage.log"; then
    record --fixture "$name" --side "$BASE_SIDE" --failed "cannot stage $src: $(tail -n 1 "$dir/stage.log")"
    continue
  fi
  if [[ $LOCAL_ONLY -eq 0 ]]; then
    upload_project "$staged" "$name-$RUN_NAME.tar.gz"
  fi
  baseline=""
  chunk_frames=0
  for ((i = 1; i <= ITERATIONS; i++)); do
    log "$name: iteration $i/$ITERATIONS"
    base_out=$dir/$BASE_SIDE-$i.mp4
    baseline_render "$name" "$staged" "$base_out" "$i"
    if [[ -z $baseline && -f $base_out ]]; then
      baseline=$base_out
      frames=$("$PY" -m hyperframes_lambda.compare.runs count-frames "$baseline")
      chunk_frames=$(((frames + CHUNKS - 1) / CHUNKS))
    fi
    if [[ -z $baseline ]]; then
      record --fixture "$name" --side "$CHUNKED_SIDE" --iteration "$i" --failed "no baseline render to size the chunks"
      continue
    fi
    out=$dir/$CHUNKED_SIDE-$i.mp4
    if [[ $LOCAL_ONLY -eq 1 ]]; then
      start=$(now_ms)
      if run_child "$PY" -m hyperframes_lambda.local "$staged" -o "$out" --parallel "$PARALLEL" --chunk-size "$chunk_frames" >"$out.log" 2>&1; then
        failed=()
      else
        failed=(--failed "local chunked render failed: $(tail -n 1 "$out.log")")
      fi
      record --fixture "$name" --side "$CHUNKED_SIDE" --iteration "$i" --output "$out" \
        --seconds "$(seconds_since "$start")" --baseline "$baseline" --chunks "$CHUNKS" \
        --chunk-frames "$chunk_frames" "${failed[@]}"
    else
      run="$name-$i-$RUN_NAME"
      run_execution "${run:0:80}" "$name-$RUN_NAME.tar.gz" "$chunk_frames" "$CHUNKS" "$dir/lambda-$i"
      if [[ -f $dir/lambda-$i/output.mp4 ]]; then
        cp "$dir/lambda-$i/output.mp4" "$out"
      fi
      record --fixture "$name" --side "$CHUNKED_SIDE" --iteration "$i" --output "$out" \
        --describe "$dir/lambda-$i/describe.json" --history "$dir/lambda-$i/history-parent.json" \
        --chunk-history "$dir/lambda-$i"/history-chunk-*.json --region "$REGION" \
        --baseline "$baseline" --chunks "$CHUNKS" --chunk-frames "$chunk_frames" --memory-mb "$MEMORY_MB"
    fi
  done
done

FIXTURE_NAMES=$(IFS=,; echo "${NAMES[*]}")
if "$PY" -m hyperframes_lambda.compare.runs summarize --results "$RUNS" --fixtures "$FIXTURE_NAMES" \
  --baseline-side "$BASE_SIDE" --sides "$CHUNKED_SIDE" --iterations "$ITERATIONS" \
  --psnr-threshold "$PSNR_THRESHOLD" --min-psnr-threshold "$MIN_PSNR_THRESHOLD" \
  --csv "$ARTIFACTS/results.csv" --json "$ARTIFACTS/results.json" --timing-note "$TIMING"; then
  GATE=0
else
  GATE=$EXIT_GATE
fi
GATE_DONE=1
log "results: $ARTIFACTS/results.json, $ARTIFACTS/results.csv"
exit "$GATE"
