# shellcheck shell=bash
# Shared by smoke.sh and eval.sh: logging, pre-flight, deploy, one execution, teardown.
# Sourced, never run. Every number and every pass/fail decision is made in Python
# (python -m hyperframes_lambda.compare / .compare.runs); this file only runs commands.

# Exit codes (both scripts; documented in their --help).
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly EXIT_GATE=1 EXIT_USAGE=2 EXIT_PREFLIGHT=3 EXIT_INCOMPLETE=4 EXIT_LEAK=5 EXIT_INTERRUPTED=130

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${HF_PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PY ]] || PY=python3
SAM=$(command -v sam || true)
[[ -n $SAM ]] || SAM=$ROOT/.venv-sam/bin/sam

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  local code=$1
  shift
  log "ERROR: $*"
  exit "$code"
}
now_ms() { date +%s%3N; }
seconds_since() { "$PY" -c 'import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1000)' "$1" "$(now_ms)"; }

# --- AWS state the teardown needs (set as soon as each thing may exist) -----------------
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
PROFILE=${AWS_PROFILE:-}
STACK_NAME=""
PROJECT_NAME=""
DEPLOY_BUCKET=""
RENDER_BUCKET=""
STATE_MACHINE=""
ACCOUNT=""
STACK_STARTED=0
DEPLOY_BUCKET_STARTED=0
KEEP_STACK=0
GATE_DONE=0
MEMORY_MB=10240
RESERVED_CONCURRENCY=-1
MAP_MAX_CONCURRENCY=10
POLL_SECONDS=${HF_POLL_SECONDS:-10}
TIMEOUT_MINUTES=25
SKIP_BUILD=0

aws_() { aws --region "$REGION" ${PROFILE:+--profile "$PROFILE"} "$@"; }
sam_() { "$SAM" "$@" --region "$REGION" ${PROFILE:+--profile "$PROFILE"}; }

new_run_names() {
  # ProjectName: ^[a-z][a-z0-9-]{1,30}$; it prefixes the function and state machine names,
  # so it must be unique per run, like the stack.
  local prefix=$1 stamp
  stamp=$(date -u +%m%d%H%M%S)
  PROJECT_NAME="$prefix-$stamp-$((RANDOM % 10000))"
  STACK_NAME=$PROJECT_NAME
}

preflight_aws() {
  local tool
  for tool in aws tar "$PY"; do
    command -v "$tool" >/dev/null || die "$EXIT_PREFLIGHT" "pre-flight: '$tool' not found on PATH"
  done
  [[ -x $SAM ]] || command -v "$SAM" >/dev/null ||
    die "$EXIT_PREFLIGHT" "pre-flight: no SAM CLI (install it, or 'make sam-cli' for .venv-sam/bin/sam)"
  if [[ $SKIP_BUILD -eq 0 ]]; then
    command -v make >/dev/null || die "$EXIT_PREFLIGHT" "pre-flight: 'make' not found (or pass --skip-build)"
  fi
  "$PY" -c 'import hyperframes_lambda.compare' 2>/dev/null ||
    die "$EXIT_PREFLIGHT" "pre-flight: $PY cannot import hyperframes_lambda (run 'make setup' or set HF_PYTHON)"
  # Credentials from the standard chain (env, profile, SSO, instance role).
  ACCOUNT=$(aws_ sts get-caller-identity --query Account --output text) ||
    die "$EXIT_PREFLIGHT" "pre-flight: no usable AWS credentials (region $REGION${PROFILE:+, profile $PROFILE})"
  log "account $ACCOUNT, region $REGION${PROFILE:+, profile $PROFILE}, stack $STACK_NAME"
}

stack_output() {
  aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

deploy_stack() {
  if [[ $SKIP_BUILD -eq 0 ]]; then
    log "make zip"
    make -C "$ROOT" zip || die "$EXIT_INCOMPLETE" "make zip failed"
  fi
  # sam deploy uploads the ZIP to this per-run bucket, removed by the teardown (SAM's
  # shared managed bucket would keep every run's ZIP).
  DEPLOY_BUCKET="$PROJECT_NAME-deploy-$ACCOUNT"
  DEPLOY_BUCKET_STARTED=1
  aws_ s3 mb "s3://$DEPLOY_BUCKET" >/dev/null || die "$EXIT_INCOMPLETE" "cannot create s3://$DEPLOY_BUCKET"
  log "sam deploy $STACK_NAME (memory $MEMORY_MB MB, reserved concurrency $RESERVED_CONCURRENCY, map concurrency $MAP_MAX_CONCURRENCY)"
  STACK_STARTED=1
  sam_ deploy --template-file "$ROOT/sam/template.yaml" --stack-name "$STACK_NAME" \
    --s3-bucket "$DEPLOY_BUCKET" --s3-prefix "$STACK_NAME" --capabilities CAPABILITY_IAM \
    --no-confirm-changeset --no-fail-on-empty-changeset \
    --parameter-overrides "ProjectName=$PROJECT_NAME" "LambdaMemoryMb=$MEMORY_MB" \
    "ReservedConcurrency=$RESERVED_CONCURRENCY" "MapMaxConcurrency=$MAP_MAX_CONCURRENCY" \
    --tags "purpose=hyperframes-lambda-eval" >&2 || die "$EXIT_INCOMPLETE" "sam deploy failed"
  RENDER_BUCKET=$(stack_output RenderBucketName) || die "$EXIT_INCOMPLETE" "no stack outputs"
  STATE_MACHINE=$(stack_output RenderStateMachineArn) || die "$EXIT_INCOMPLETE" "no stack outputs"
  [[ -n $RENDER_BUCKET && -n $STATE_MACHINE && $RENDER_BUCKET != None ]] || die "$EXIT_INCOMPLETE" "stack outputs are empty"
  log "bucket $RENDER_BUCKET, state machine $STATE_MACHINE"
}

# upload_project DIR KEY: a .tar.gz of DIR (symlinks followed) at s3://bucket/projects/KEY.
upload_project() {
  local dir=$1 key=$2 archive
  archive=$(mktemp --suffix=.tar.gz)
  tar -czhf "$archive" -C "$dir" . || die "$EXIT_INCOMPLETE" "cannot pack $dir"
  aws_ s3 cp --only-show-errors "$archive" "s3://$RENDER_BUCKET/projects/$key" ||
    die "$EXIT_INCOMPLETE" "upload of $dir failed"
  rm -f "$archive"
}

# run_execution NAME PROJECT_KEY CHUNK_FRAMES CHUNKS DIR: start one render, wait for it,
# save DIR/describe.json, DIR/history-*.json and (when it succeeded) DIR/output.mp4.
# Returns 0 even when the execution failed: the record step reads describe.json.
run_execution() {
  local name=$1 key=$2 chunk_frames=$3 chunks=$4 dir=$5 input arn status deadline map_runs children
  mkdir -p "$dir"
  input=$(printf '{"ProjectS3Uri":"s3://%s/projects/%s","PlanOutputS3Prefix":"s3://%s/renders/%s/","OutputS3Uri":"s3://%s/outputs/%s.mp4","Config":{"chunkSize":%d,"maxParallelChunks":%d,"runtimeCap":"lambda"}}' \
    "$RENDER_BUCKET" "$key" "$RENDER_BUCKET" "$name" "$RENDER_BUCKET" "$name" "$chunk_frames" "$chunks")
  arn=$(aws_ stepfunctions start-execution --state-machine-arn "$STATE_MACHINE" --name "$name" \
    --input "$input" --query executionArn --output text) || die "$EXIT_INCOMPLETE" "start-execution $name failed"
  log "execution $name started ($chunks chunks of $chunk_frames frames)"
  deadline=$(($(date +%s) + TIMEOUT_MINUTES * 60))
  while :; do
    status=$(aws_ stepfunctions describe-execution --execution-arn "$arn" --query status --output text) ||
      die "$EXIT_INCOMPLETE" "describe-execution $name failed"
    [[ $status == RUNNING ]] || break
    if ((deadline > 0 && $(date +%s) > deadline)); then
      aws_ stepfunctions stop-execution --execution-arn "$arn" --error Timeout >/dev/null || true
      log "execution $name still running after $TIMEOUT_MINUTES min: stopped"
      deadline=0 # once; the loop then waits for ABORTED
    fi
    sleep "$POLL_SECONDS"
  done
  log "execution $name: $status"
  aws_ stepfunctions describe-execution --execution-arn "$arn" --output json >"$dir/describe.json"
  aws_ stepfunctions get-execution-history --execution-arn "$arn" --output json >"$dir/history-parent.json"
  # Each chunk is a child execution of the Distributed Map: its Lambda time is in its own
  # history.
  map_runs=$(aws_ stepfunctions list-map-runs --execution-arn "$arn" --query 'mapRuns[].mapRunArn' --output text)
  local map_run child n=0
  for map_run in $map_runs; do
    [[ $map_run == None ]] && continue
    children=$(aws_ stepfunctions list-executions --map-run-arn "$map_run" --query 'executions[].executionArn' --output text)
    for child in $children; do
      [[ $child == None ]] && continue
      n=$((n + 1))
      aws_ stepfunctions get-execution-history --execution-arn "$child" --output json >"$dir/history-chunk-$n.json"
    done
  done
  if [[ $status == SUCCEEDED ]]; then
    aws_ s3 cp --only-show-errors "s3://$RENDER_BUCKET/outputs/$name.mp4" "$dir/output.mp4" ||
      log "download of $name's output failed (recorded as missing)"
  fi
}

# --- teardown ---------------------------------------------------------------------------

empty_and_remove_bucket() {
  local bucket=$1
  log "emptying and removing s3://$bucket"
  aws_ s3 rm "s3://$bucket" --recursive --only-show-errors || log "could not empty s3://$bucket"
  aws_ s3 rb "s3://$bucket" || log "could not remove s3://$bucket"
}

stop_running_executions() {
  local running arn
  running=$(aws_ stepfunctions list-executions --state-machine-arn "$STATE_MACHINE" \
    --status-filter RUNNING --query 'executions[].executionArn' --output text) || running=""
  for arn in $running; do
    [[ $arn == None ]] && continue
    log "stopping execution $arn"
    aws_ stepfunctions stop-execution --execution-arn "$arn" --error Teardown >/dev/null ||
      log "could not stop $arn"
  done
}

# Prints what is still there; returns 1 if anything is.
verify_nothing_leaked() {
  local leaked=0 err groups prefix
  if err=$(aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" 2>&1 >/dev/null); then
    log "LEAK: stack $STACK_NAME still exists"
    leaked=1
  elif [[ $err != *"does not exist"* ]]; then
    log "LEAK?: cannot tell whether stack $STACK_NAME is gone: $err"
    leaked=1
  fi
  local bucket
  for bucket in "$RENDER_BUCKET" "$DEPLOY_BUCKET"; do
    [[ -n $bucket ]] || continue
    if err=$(aws_ s3api head-bucket --bucket "$bucket" 2>&1 >/dev/null); then
      log "LEAK: bucket s3://$bucket still exists"
      leaked=1
    elif [[ $err != *404* && $err != *"Not Found"* && $err != *NoSuchBucket* ]]; then
      log "LEAK?: cannot tell whether s3://$bucket is gone: $err"
      leaked=1
    fi
  done
  for prefix in "/aws/lambda/$PROJECT_NAME-render" "/aws/vendedlogs/states/$PROJECT_NAME-render"; do
    groups=$(aws_ logs describe-log-groups --log-group-name-prefix "$prefix" \
      --query 'logGroups[].logGroupName' --output text) || groups="(describe-log-groups failed)"
    if [[ -n $groups && $groups != None ]]; then
      log "LEAK: log group(s) $groups"
      leaked=1
    fi
  done
  return "$leaked"
}

teardown() {
  if [[ $STACK_STARTED -eq 0 && $DEPLOY_BUCKET_STARTED -eq 0 ]]; then
    return 0
  fi
  log "teardown of $STACK_NAME"
  if [[ $STACK_STARTED -eq 1 ]]; then
    if [[ -z $RENDER_BUCKET ]]; then
      RENDER_BUCKET=$(stack_output RenderBucketName 2>/dev/null) || RENDER_BUCKET=""
      [[ $RENDER_BUCKET == None ]] && RENDER_BUCKET=""
    fi
    if [[ -z $STATE_MACHINE ]]; then
      STATE_MACHINE=$(stack_output RenderStateMachineArn 2>/dev/null) || STATE_MACHINE=""
      [[ $STATE_MACHINE == None ]] && STATE_MACHINE=""
    fi
    # An interrupted run can leave an execution running (even one whose start-execution
    # never returned): deleting the state machine does not stop it, and it would keep
    # invoking the function and writing to the bucket. Stop them first.
    [[ -n $STATE_MACHINE ]] && stop_running_executions
    sam_ delete --stack-name "$STACK_NAME" --no-prompts >&2 || log "sam delete failed"
  fi
  # The render bucket is retained by the stack (DeletionPolicy: Retain): empty and remove
  # it ourselves, like the per-run deploy bucket.
  [[ -n $RENDER_BUCKET ]] && empty_and_remove_bucket "$RENDER_BUCKET"
  [[ -n $DEPLOY_BUCKET ]] && empty_and_remove_bucket "$DEPLOY_BUCKET"
  if verify_nothing_leaked; then
    log "teardown complete: stack, buckets and log groups are gone"
    return 0
  fi
  log "teardown INCOMPLETE: remove the resources above by hand (sam delete --stack-name $STACK_NAME; aws s3 rb --force s3://BUCKET)"
  return 1
}

# The EXIT trap: any exit (a gate result, a die, an unrouted failure under set -e, a
# signal) ends here, so the stack is torn down whatever happened.
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $GATE_DONE -eq 0 && $rc -ne 0 && $rc -ne $EXIT_USAGE && $rc -ne $EXIT_PREFLIGHT && $rc -ne $EXIT_INTERRUPTED ]]; then
    rc=$EXIT_INCOMPLETE # failed before the gate: never mistaken for a gate failure
  fi
  if [[ $KEEP_STACK -eq 1 && ($STACK_STARTED -eq 1 || $DEPLOY_BUCKET_STARTED -eq 1) ]]; then
    log "--keep-stack: stack $STACK_NAME kept (bucket ${RENDER_BUCKET:-?}, deploy bucket ${DEPLOY_BUCKET:-?}); it keeps costing storage until you delete it"
  elif ! teardown; then
    rc=$EXIT_LEAK
  fi
  exit "$rc"
}

on_signal() {
  log "interrupted by SIG$1: tearing down"
  exit "$EXIT_INTERRUPTED"
}

install_traps() {
  trap on_exit EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
}
