# shellcheck shell=bash
# Shared by smoke.sh and eval.sh: logging, flag checks, pre-flight, deploy, one execution,
# teardown. Sourced, never run. Every number and every pass/fail decision is made in Python
# (python -m hyperframes_lambda.compare.runs); this file only runs commands.
#
# Safety rules (what the teardown may touch): the scripts deploy only a stack they create
# under a free name (hfsmoke-/hfeval- prefix), tagged $TAG_KEY=<this run's id>, and they
# delete or empty only a stack and buckets carrying that tag with this run's id. Anything
# else is refused before any AWS change, or left alone and reported.

# Exit codes (both scripts; documented in their --help).
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly EXIT_GATE=1 EXIT_USAGE=2 EXIT_PREFLIGHT=3 EXIT_INCOMPLETE=4 EXIT_LEAK=5 EXIT_INTERRUPTED=130
readonly TAG_KEY=hyperframes-lambda-run
# The CLI versions the scripts are written against (checked before any AWS change): aws
# for Step Functions map runs (list-map-runs) and JMESPath --query; sam for an absolute
# --config-file and 'sam delete --no-prompts'.
# shellcheck disable=SC2034 # shown by the scripts' --help
readonly MIN_AWS_V1=1.27.50 MIN_AWS_V2=2.10.0 MIN_SAM=1.100.0

shopt -s nullglob # a glob matching nothing is no argument, not itself
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${HF_PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PY ]] || PY=python3
SAM=$(command -v sam || true)
[[ -n $SAM ]] || SAM=$ROOT/.venv-sam/bin/sam
# SAM CLI: no usage data sent from these runs.
export SAM_CLI_TELEMETRY=0

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  local code=$1
  shift
  log "ERROR: $*"
  exit "$code"
}
now_ms() { date +%s%3N; }
seconds_since() { "$PY" -c 'import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1000)' "$1" "$(now_ms)"; }

# --- flag checks (before anything starts) ----------------------------------------------
# need_int FLAG VALUE MIN [MAX]: a whole number in range, else exit 2.
need_int() {
  local flag=$1 value=$2 min=$3 max=${4:-}
  if [[ $value =~ ^-?(0|[1-9][0-9]{0,8})$ ]] && ((value >= min)) && [[ -z $max || $value -le $max ]]; then
    return 0
  fi
  die "$EXIT_USAGE" "$flag must be a whole number ${max:+from $min to $max}${max:-of at least $min}, got '$value'"
}
# need_number FLAG VALUE: a finite decimal number (so 'nan' and 'inf' are refused), else exit 2.
need_number() {
  [[ $2 =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || die "$EXIT_USAGE" "$1 must be a finite number, got '$2'"
}
# fresh_artifacts DIR: each run writes into a new directory, so nothing of an earlier run
# (an output whose download failed this time) can be judged as this run's.
fresh_artifacts() {
  if [[ -e $1 ]] && [[ ! -d $1 || -n $(ls -A "$1") ]]; then
    die "$EXIT_USAGE" "--artifacts $1 already exists and is not empty: give a new directory (each run writes a fresh one)"
  fi
  mkdir -p "$1" || die "$EXIT_USAGE" "cannot create --artifacts $1"
}

# --- AWS state the teardown needs (set as soon as each thing may exist) -----------------
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
PROFILE=${AWS_PROFILE:-}
STACK_NAME=""
STACK_ID=""
PROJECT_NAME=""
RUN_ID=""
DEPLOY_BUCKET=""
RENDER_BUCKET=""
STATE_MACHINE=""
ACCOUNT=""
WORK=""
CHILD_PID=""
IN_TEARDOWN=0
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

# run_child CMD...: CMD in the background, waited for. bash runs a trap only once its
# foreground child has exited, so a TERM sent to this script alone would otherwise wait
# for 'sam deploy' or a render; with 'wait' the trap runs at once (and kills CMD). During
# the teardown, CMD runs in the foreground with INT and TERM ignored (inherited across
# exec), so a second Ctrl-C cannot cut an AWS call in half.
run_child() {
  local rc=0
  if [[ $IN_TEARDOWN -eq 1 ]]; then
    (
      trap '' INT TERM
      exec "$@"
    ) || rc=$?
    return "$rc" # explicit: a bare 'return' in a trap handler returns the status from before the trap
  fi
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}
# capture VAR CMD...: VAR=$(CMD...) (trailing newlines dropped), without a subshell: CMD
# is aws_, sam_ or 'run_child PROGRAM ...', so a signal reaches the trap at once.
# capture_all: the same with stderr captured too (an error message to read).
capture() { capture_into "$1" 1 "${@:2}"; }
capture_all() { capture_into "$1" 2 "${@:2}"; }
capture_into() {
  local target=$1 streams=$2 file=$WORK/capture.$$ rc=0
  shift 2
  if [[ $streams -eq 2 ]]; then
    "$@" >"$file" 2>&1 || rc=$?
  else
    "$@" >"$file" || rc=$?
  fi
  printf -v "$target" '%s' "$(<"$file")"
  rm -f "$file"
  return "$rc"
}

aws_() { run_child aws --region "$REGION" ${PROFILE:+--profile "$PROFILE"} "$@"; }
# sam with a config file of our own (absolute, so sam does not look beside the template):
# a user's sam/samconfig.toml (say resolve_s3 = true from 'sam deploy --guided') never
# leaks into these runs.
sam_() { run_child "$SAM" "$@" --config-file "$WORK/samconfig.toml" --config-env default --region "$REGION" ${PROFILE:+--profile "$PROFILE"}; }

make_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf-scripts.XXXXXX")
  printf 'version = 0.1\n# written by scripts/lib.sh: the scripts pass every sam option themselves\n' >"$WORK/samconfig.toml"
}

new_run_id() {
  RUN_ID=$(date -u +%Y%m%dT%H%M%S)-$$-$RANDOM
}

new_run_names() {
  # ProjectName: ^[a-z][a-z0-9-]{1,30}$; it prefixes the function and state machine names,
  # so it must be unique per run, like the stack.
  local prefix=$1 stamp
  stamp=$(date -u +%m%d%H%M%S)
  PROJECT_NAME="$prefix-$stamp-$((RANDOM % 10000))"
  STACK_NAME=$PROJECT_NAME
}

# check_stack_name PREFIX: --stack-name must be one of this script's own names.
check_stack_name() {
  [[ $STACK_NAME =~ ^[a-z][a-z0-9-]{1,30}$ ]] || die "$EXIT_USAGE" "--stack-name must match ^[a-z][a-z0-9-]{1,30}\$"
  [[ $STACK_NAME == "$1"-* ]] ||
    die "$EXIT_USAGE" "--stack-name must start with '$1-': the script deploys, and tears down, only a stack of its own"
  PROJECT_NAME=$STACK_NAME
}

# version_at_least HAVE WANT
version_at_least() {
  [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

check_cli_versions() {
  local text version aws_version
  capture_all text run_child aws --version || die "$EXIT_PREFLIGHT" "pre-flight: 'aws --version' failed"
  version=$(sed -n 's|^aws-cli/\([0-9][0-9.]*\).*|\1|p' <<<"$text")
  if [[ -z $version ]]; then
    die "$EXIT_PREFLIGHT" "pre-flight: cannot read the aws cli version from '$text'"
  elif [[ $version == 1.* ]]; then
    version_at_least "$version" "$MIN_AWS_V1" ||
      die "$EXIT_PREFLIGHT" "pre-flight: aws cli $version is too old: need $MIN_AWS_V1+ (v1) or $MIN_AWS_V2+ (v2)"
  else
    version_at_least "$version" "$MIN_AWS_V2" ||
      die "$EXIT_PREFLIGHT" "pre-flight: aws cli $version is too old: need $MIN_AWS_V2+ (v2) or $MIN_AWS_V1+ (v1)"
  fi
  aws_version=$version
  capture_all text run_child "$SAM" --version || die "$EXIT_PREFLIGHT" "pre-flight: '$SAM --version' failed"
  version=$(sed -n 's|^SAM CLI, version \([0-9][0-9.]*\).*|\1|p' <<<"$text")
  [[ -n $version ]] || die "$EXIT_PREFLIGHT" "pre-flight: cannot read the SAM CLI version from '$text'"
  version_at_least "$version" "$MIN_SAM" ||
    die "$EXIT_PREFLIGHT" "pre-flight: SAM CLI $version is too old: need $MIN_SAM+"
  log "aws cli $aws_version, SAM CLI $version"
}

# Only reads: tools, versions, credentials, and that the stack and deploy-bucket names
# are free. Nothing in the account changes before all of it passed.
preflight_aws() {
  local tool err
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
  check_cli_versions
  # Credentials from the standard chain (env, profile, SSO, instance role).
  capture ACCOUNT aws_ sts get-caller-identity --query Account --output text ||
    die "$EXIT_PREFLIGHT" "pre-flight: no usable AWS credentials (region $REGION${PROFILE:+, profile $PROFILE})"
  if capture_all err aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].StackId' --output text; then
    die "$EXIT_PREFLIGHT" "pre-flight: a stack named $STACK_NAME already exists: the script deploys only a stack of its own (leave --stack-name out for a free name)"
  elif [[ $err != *"does not exist"* ]]; then
    die "$EXIT_PREFLIGHT" "pre-flight: cannot tell whether stack $STACK_NAME exists: $err"
  fi
  DEPLOY_BUCKET="$PROJECT_NAME-deploy-$ACCOUNT"
  if capture_all err aws_ s3api head-bucket --bucket "$DEPLOY_BUCKET"; then
    die "$EXIT_PREFLIGHT" "pre-flight: bucket s3://$DEPLOY_BUCKET already exists: not this run's to use or remove"
  elif [[ $err != *404* && $err != *"Not Found"* && $err != *NoSuchBucket* ]]; then
    die "$EXIT_PREFLIGHT" "pre-flight: bucket s3://$DEPLOY_BUCKET is not free: $err"
  fi
  log "account $ACCOUNT, region $REGION${PROFILE:+, profile $PROFILE}, stack $STACK_NAME, run $RUN_ID"
}

stack_output() {
  capture "$1" aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue | [0]" --output text
}

deploy_stack() {
  if [[ $SKIP_BUILD -eq 0 ]]; then
    log "make zip"
    run_child make -C "$ROOT" zip || die "$EXIT_INCOMPLETE" "make zip failed"
  fi
  # sam deploy uploads the ZIP to this per-run bucket (SAM's shared managed bucket would
  # keep every run's ZIP); it is tagged at once, the tag being the teardown's licence.
  DEPLOY_BUCKET_STARTED=1
  aws_ s3 mb "s3://$DEPLOY_BUCKET" >/dev/null || die "$EXIT_INCOMPLETE" "cannot create s3://$DEPLOY_BUCKET"
  aws_ s3api put-bucket-tagging --bucket "$DEPLOY_BUCKET" \
    --tagging "{\"TagSet\":[{\"Key\":\"$TAG_KEY\",\"Value\":\"$RUN_ID\"}]}" ||
    die "$EXIT_INCOMPLETE" "cannot tag s3://$DEPLOY_BUCKET"
  log "sam deploy $STACK_NAME (memory $MEMORY_MB MB, reserved concurrency $RESERVED_CONCURRENCY, map concurrency $MAP_MAX_CONCURRENCY)"
  STACK_STARTED=1
  # CloudFormation gives the stack's tags to the resources it creates: the render bucket
  # carries this run's id too.
  sam_ deploy --template-file "$ROOT/sam/template.yaml" --stack-name "$STACK_NAME" \
    --s3-bucket "$DEPLOY_BUCKET" --s3-prefix "$STACK_NAME" --capabilities CAPABILITY_IAM \
    --no-confirm-changeset --no-fail-on-empty-changeset \
    --parameter-overrides "ProjectName=$PROJECT_NAME" "LambdaMemoryMb=$MEMORY_MB" \
    "ReservedConcurrency=$RESERVED_CONCURRENCY" "MapMaxConcurrency=$MAP_MAX_CONCURRENCY" \
    --tags "$TAG_KEY=$RUN_ID" "purpose=hyperframes-lambda-eval" >&2 || die "$EXIT_INCOMPLETE" "sam deploy failed"
  stack_output RENDER_BUCKET RenderBucketName || die "$EXIT_INCOMPLETE" "no stack outputs"
  stack_output STATE_MACHINE RenderStateMachineArn || die "$EXIT_INCOMPLETE" "no stack outputs"
  [[ -n $RENDER_BUCKET && -n $STATE_MACHINE && $RENDER_BUCKET != None ]] || die "$EXIT_INCOMPLETE" "stack outputs are empty"
  log "bucket $RENDER_BUCKET, state machine $STATE_MACHINE"
}

# upload_project DIR KEY: a .tar.gz of DIR (symlinks followed) at s3://bucket/projects/KEY.
upload_project() {
  local dir=$1 key=$2 archive=$WORK/project.tar.gz
  run_child tar -czhf "$archive" -C "$dir" . || die "$EXIT_INCOMPLETE" "cannot pack $dir"
  aws_ s3 cp --only-show-errors "$archive" "s3://$RENDER_BUCKET/projects/$key" ||
    die "$EXIT_INCOMPLETE" "upload of $dir failed"
  rm -f "$archive"
}

# run_execution NAME PROJECT_KEY CHUNK_FRAMES CHUNKS DIR: start one render, wait for it,
# save DIR/describe.json, DIR/history-parent.json, DIR/history-chunk-*.json and (when it
# succeeded) DIR/output.mp4. DIR must be new. Returns 0 even when the execution failed:
# the record step reads describe.json.
run_execution() {
  local name=$1 key=$2 chunk_frames=$3 chunks=$4 dir=$5 input arn status deadline map_runs children
  mkdir "$dir" || die "$EXIT_INCOMPLETE" "$dir exists: each execution writes a fresh directory"
  input=$(printf '{"ProjectS3Uri":"s3://%s/projects/%s","PlanOutputS3Prefix":"s3://%s/renders/%s/","OutputS3Uri":"s3://%s/outputs/%s.mp4","Config":{"chunkSize":%d,"maxParallelChunks":%d,"runtimeCap":"lambda"}}' \
    "$RENDER_BUCKET" "$key" "$RENDER_BUCKET" "$name" "$RENDER_BUCKET" "$name" "$chunk_frames" "$chunks")
  capture arn aws_ stepfunctions start-execution --state-machine-arn "$STATE_MACHINE" --name "$name" \
    --input "$input" --query executionArn --output text || die "$EXIT_INCOMPLETE" "start-execution $name failed"
  log "execution $name started ($chunks chunks of $chunk_frames frames requested)"
  deadline=$(($(date +%s) + TIMEOUT_MINUTES * 60))
  while :; do
    capture status aws_ stepfunctions describe-execution --execution-arn "$arn" --query status --output text ||
      die "$EXIT_INCOMPLETE" "describe-execution $name failed"
    [[ $status == RUNNING ]] || break
    if ((deadline > 0 && $(date +%s) > deadline)); then
      aws_ stepfunctions stop-execution --execution-arn "$arn" --error Timeout >/dev/null || true
      log "execution $name still running after $TIMEOUT_MINUTES min: stopped"
      deadline=0 # once; the loop then waits for ABORTED
    fi
    run_child sleep "$POLL_SECONDS"
  done
  log "execution $name: $status"
  aws_ stepfunctions describe-execution --execution-arn "$arn" --output json >"$dir/describe.json"
  aws_ stepfunctions get-execution-history --execution-arn "$arn" --output json >"$dir/history-parent.json"
  # Each chunk is a child execution of the Distributed Map: its Lambda time is in its own
  # history.
  capture map_runs aws_ stepfunctions list-map-runs --execution-arn "$arn" --query 'mapRuns[].mapRunArn' --output text
  local map_run child n=0
  for map_run in $map_runs; do
    [[ $map_run == None ]] && continue
    capture children aws_ stepfunctions list-executions --map-run-arn "$map_run" --query 'executions[].executionArn' --output text
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

# ours KIND NAME TAGS: whether the tag value read from NAME is this run's id.
ours() {
  if [[ $3 == "$RUN_ID" ]]; then
    return 0
  fi
  log "REFUSED: $1 $2 does not carry $TAG_KEY=$RUN_ID (found '${3:-no tag}'): not this run's, left alone"
  return 1
}

bucket_is_ours() {
  local tag
  capture tag aws_ s3api get-bucket-tagging --bucket "$1" \
    --query "TagSet[?Key=='$TAG_KEY'].Value | [0]" --output text 2>/dev/null || tag=""
  ours bucket "s3://$1" "$tag"
}

empty_and_remove_bucket() {
  local bucket=$1 attempt
  bucket_is_ours "$bucket" || return 0 # the verification still reports it if it exists
  for attempt in 1 2; do
    log "emptying and removing s3://$bucket${attempt/#1/}"
    aws_ s3 rm "s3://$bucket" --recursive --only-show-errors || log "could not empty s3://$bucket"
    aws_ s3 rb "s3://$bucket" && return 0
    # BucketNotEmpty: something (a Lambda still finishing) wrote after the rm; once more.
  done
  log "could not remove s3://$bucket"
}

stop_running_executions() {
  local running arn
  capture running aws_ stepfunctions list-executions --state-machine-arn "$STATE_MACHINE" \
    --status-filter RUNNING --query 'executions[].executionArn' --output text || running=""
  for arn in $running; do
    [[ $arn == None ]] && continue
    log "stopping execution $arn"
    aws_ stepfunctions stop-execution --execution-arn "$arn" --error Teardown >/dev/null ||
      log "could not stop $arn"
  done
}

# The render bucket from the stack's resources (its outputs are gone after a rollback; a
# deleted stack's resources are still listed by its id).
render_bucket_from_resources() {
  local found
  [[ -n $STACK_ID ]] || return 0
  capture found aws_ cloudformation list-stack-resources --stack-name "$STACK_ID" \
    --query "StackResourceSummaries[?LogicalResourceId=='RenderBucket'].PhysicalResourceId | [0]" \
    --output text 2>/dev/null || found=""
  if [[ -n $found && $found != None ]]; then
    RENDER_BUCKET=$found
  fi
}

# Prints what is still there; returns 1 if anything is.
verify_nothing_leaked() {
  local leaked=0 err groups prefix status
  if capture status aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].StackStatus' --output text 2>/dev/null; then
    log "LEAK: stack $STACK_NAME still exists ($status)"
    leaked=1
  else
    capture_all err aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" || true
    if [[ $err != *"does not exist"* ]]; then
      log "LEAK?: cannot tell whether stack $STACK_NAME is gone: $err"
      leaked=1
    fi
  fi
  local bucket
  for bucket in "$RENDER_BUCKET" "$DEPLOY_BUCKET"; do
    [[ -n $bucket ]] || continue
    if capture_all err aws_ s3api head-bucket --bucket "$bucket"; then
      log "LEAK: bucket s3://$bucket still exists"
      leaked=1
    elif [[ $err != *404* && $err != *"Not Found"* && $err != *NoSuchBucket* ]]; then
      log "LEAK?: cannot tell whether s3://$bucket is gone: $err"
      leaked=1
    fi
  done
  for prefix in "/aws/lambda/$PROJECT_NAME-render" "/aws/vendedlogs/states/$PROJECT_NAME-render"; do
    capture groups aws_ logs describe-log-groups --log-group-name-prefix "$prefix" \
      --query 'logGroups[].logGroupName' --output text || groups="(describe-log-groups failed)"
    if [[ -n $groups && $groups != None ]]; then
      log "LEAK: log group(s) $groups"
      leaked=1
    fi
  done
  return "$leaked"
}

teardown() {
  local tag
  if [[ $STACK_STARTED -eq 0 && $DEPLOY_BUCKET_STARTED -eq 0 ]]; then
    return 0
  fi
  log "teardown of $STACK_NAME (run $RUN_ID)"
  if [[ $STACK_STARTED -eq 1 ]]; then
    capture STACK_ID aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" \
      --query 'Stacks[0].StackId' --output text 2>/dev/null || STACK_ID=""
  fi
  if [[ -n $STACK_ID ]]; then
    capture tag aws_ cloudformation describe-stacks --stack-name "$STACK_ID" \
      --query "Stacks[0].Tags[?Key=='$TAG_KEY'].Value | [0]" --output text 2>/dev/null || tag=""
    if ours stack "$STACK_NAME" "$tag"; then
      render_bucket_from_resources
      [[ -n $STATE_MACHINE ]] || stack_output STATE_MACHINE RenderStateMachineArn 2>/dev/null || STATE_MACHINE=""
      [[ $STATE_MACHINE == None ]] && STATE_MACHINE=""
      # An interrupted run can leave an execution running (even one whose start-execution
      # never returned): deleting the state machine does not stop it, and it would keep
      # invoking the function and writing to the bucket. Stop them first.
      [[ -n $STATE_MACHINE ]] && stop_running_executions
      sam_ delete --stack-name "$STACK_NAME" --no-prompts >&2 || log "sam delete failed"
      [[ -n $RENDER_BUCKET ]] || render_bucket_from_resources
    fi
  fi
  # The render bucket is retained by the stack (DeletionPolicy: Retain): empty and remove
  # it ourselves, like the per-run deploy bucket, when it carries this run's tag.
  [[ -n $RENDER_BUCKET ]] && empty_and_remove_bucket "$RENDER_BUCKET"
  [[ $DEPLOY_BUCKET_STARTED -eq 1 ]] && empty_and_remove_bucket "$DEPLOY_BUCKET"
  if verify_nothing_leaked; then
    log "teardown complete: stack, buckets and log groups are gone"
    return 0
  fi
  log "teardown INCOMPLETE: check the resources above and remove those of this run by hand (sam delete --stack-name $STACK_NAME; aws s3 rb --force s3://BUCKET)"
  return 1
}

# The EXIT trap: any exit (a gate result, a die, an unrouted failure under set -e, a
# signal) ends here, so the stack is torn down whatever happened. From here on, INT and
# TERM are logged, not obeyed: a teardown cut in half leaks.
on_exit() {
  local rc=$?
  IN_TEARDOWN=1
  trap 'log "SIGINT during the teardown: ignored, the teardown goes on"' INT
  trap 'log "SIGTERM during the teardown: ignored, the teardown goes on"' TERM
  trap - EXIT
  if [[ -n $CHILD_PID ]]; then
    kill -TERM "$CHILD_PID" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
    CHILD_PID=""
  fi
  if [[ $GATE_DONE -eq 0 && $rc -ne 0 && $rc -ne $EXIT_USAGE && $rc -ne $EXIT_PREFLIGHT && $rc -ne $EXIT_INTERRUPTED ]]; then
    rc=$EXIT_INCOMPLETE # failed before the gate: never mistaken for a gate failure
  fi
  if [[ $KEEP_STACK -eq 1 && ($STACK_STARTED -eq 1 || $DEPLOY_BUCKET_STARTED -eq 1) ]]; then
    log "--keep-stack: stack $STACK_NAME kept (bucket ${RENDER_BUCKET:-?}, deploy bucket ${DEPLOY_BUCKET:-?}, tag $TAG_KEY=$RUN_ID); it keeps costing storage until you delete it"
  elif ! teardown; then
    rc=$EXIT_LEAK
  fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}

on_signal() {
  log "interrupted by SIG$1: tearing down"
  exit "$EXIT_INTERRUPTED"
}

install_traps() {
  make_workdir
  new_run_id
  trap on_exit EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
}
