# Shared by scripts/dev and scripts/test. Sourced, not run.
# Everything installs under the project: .venv (moto, cargo-lambda, zig),
# .venv-iac (cfn-lint, checkov, sam). cfn-guard comes from `cargo install`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# venv DIR REQUIREMENTS: create DIR and install REQUIREMENTS unless already current.
venv() {
  local dir=$1 req=$2 stamp
  stamp="$dir/.installed-$(sha256sum "$req" | cut -c1-16)"
  if [[ ! -f $stamp ]]; then
    log "installing $(basename "$req") into $dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    touch "$stamp"
  fi
}

dev_venv() {
  venv .venv scripts/requirements-dev.txt
  export PATH="$ROOT/.venv/bin:$PATH"
}

# The emulator needs a region and (any) credentials; nothing here leaves 127.0.0.1.
emulator_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_free PORT: true if a listener could bind 127.0.0.1:PORT now (as the
# stub's and moto's do, reusing a port in TIME_WAIT).
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$1" 2>/dev/null
}

# start_moto PORT LOGFILE: starts moto on 127.0.0.1:PORT, sets MOTO_PID, waits until it answers.
start_moto() {
  local port=$1 logfile=$2
  "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$logfile" >&2; return 1; }
    sleep 0.2
  done
  log "moto did not start on 127.0.0.1:$port"; return 1
}

# The role ARNs the sample events carry, on the matching allow-lists.
DEV_ACCOUNT=111122223333
TOKENIZER_ROLE="arn:aws:iam::$DEV_ACCOUNT:role/payments-tokenizer"
DETOKENIZER_ROLE="arn:aws:iam::$DEV_ACCOUNT:role/settlement-detokenizer"
ADMIN_ROLE="arn:aws:iam::$DEV_ACCOUNT:role/tessera-admin"
DEV_ROLE="arn:aws:iam::$DEV_ACCOUNT:role/tessera-local-developer"

# The local stack, shared by scripts/dev (in the foreground) and
# scripts/contract (in the background, on free ports).

# dev_build: the bootstrap, the stub processor and the four functions with
# the dev principal. The functions are built as `cargo lambda watch` builds
# them on a function's first request (`cargo run --bin <function>` in the
# workspace: every member's features unified), so that build finds
# everything fresh and the first request is answered in seconds, not minutes.
# DEV_RELEASE=1 builds (and dev_start serves) the functions in release.
dev_build() {
  cargo build --quiet --workspace --bins --features tessera-lambda/dev-principal
  cargo build --quiet -p tessera-testkit --features stub --bin tessera-stub-processor
  if [[ ${DEV_RELEASE:-} == 1 ]]; then
    cargo build --quiet --release --workspace --bins --features tessera-lambda/dev-principal
  fi
}

# dev_start DIR MOTO_PORT STUB_PORT LAMBDA_PORT: starts moto, the stub
# processor on https://processor.localhost:STUB_PORT, provisions the vault
# (with the fixture tokens), and starts all six functions (tokenize,
# detokenize, admin, forward, capture-sessions, capture) under `cargo
# lambda watch` on 127.0.0.1:LAMBDA_PORT. Logs and settings go in DIR.
# Appends what it started to DEV_PIDS (each its own process group); stop
# them with dev_stop. Sets the emulator's environment.
DEV_PIDS=()
dev_start() {
  local dir=$1 moto_port=$2 stub_port=$3 lambda_port=$4
  mkdir -p "$dir"
  emulator_env "$moto_port"

  log "starting moto on 127.0.0.1:$moto_port (log: $dir/moto.log)"
  start_moto "$moto_port" "$dir/moto.log"
  DEV_PIDS+=("$MOTO_PID")

  log "starting the stub processor on https://processor.localhost:$stub_port (log: $dir/stub.log)"
  rm -f "$dir/stub-ca.pem"
  setsid "${CARGO_TARGET_DIR:-target}/debug/tessera-stub-processor" "$stub_port" "$dir/stub-ca.pem" > "$dir/stub.log" 2>&1 &
  DEV_PIDS+=("$!")
  for _ in $(seq 50); do [[ -s $dir/stub-ca.pem ]] && break; sleep 0.1; done
  [[ -s $dir/stub-ca.pem ]] || { log "the stub processor did not start: see $dir/stub.log"; return 1; }

  log "creating table, key and secret; seeding fixtures"
  "${CARGO_TARGET_DIR:-target}/debug/tessera-bootstrap" --fixtures events/fixtures.json --env-file "$dir/vault.env"

  {
    cat "$dir/vault.env"
    echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    echo "AWS_REGION=$AWS_REGION"
    echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
    echo "AWS_LAMBDA_LOG_FORMAT=${AWS_LAMBDA_LOG_FORMAT:-Text}"
    echo "TESSERA_TOKENIZE_ROLES=$TOKENIZER_ROLE,$DEV_ROLE"
    echo "TESSERA_DESCRIBE_ROLES=$TOKENIZER_ROLE,$DEV_ROLE"
    # Roles told a card's existing token (dedup and lookup); others get a new
    # token per call. The sample events and the fixtures rely on dedup.
    echo "TESSERA_DEDUP_ROLES=$TOKENIZER_ROLE,$DEV_ROLE"
    # The fixtures are seeded in the default scope; these roles share it.
    # Quoted: the env-file parser refuses a bare `=` in a value.
    echo "TESSERA_DEDUP_SCOPES='default=$TOKENIZER_ROLE,$DEV_ROLE'"
    # The sample events' REST API (abc123/prod) and HTTP API (def456/\$default).
    echo "TESSERA_API_ID=abc123,def456"
    # Single quotes: the env-file parser would expand $default.
    echo "TESSERA_API_STAGE='prod,\$default'"
    echo "TESSERA_DETOKENIZE_ROLES=$DETOKENIZER_ROLE,$DEV_ROLE"
    echo "TESSERA_ADMIN_ROLES=$ADMIN_ROLE,$DEV_ROLE"
    # forward: the stub processor is the one destination (events/ name it too).
    echo "TESSERA_FORWARD_ROLES=arn:aws:iam::111122223333:role/payments-forwarder,$DEV_ROLE"
    echo "TESSERA_FORWARD_DESTINATIONS='[{\"name\":\"stub\",\"host\":\"processor.localhost\",\"port\":$stub_port,\"methods\":[\"POST\"],\"body_format\":\"json\",\"paths\":[{\"prefix\":\"/v1/charges\",\"card_fields\":[\"/card/number\",\"/card\"]}]}]'"
    echo "TESSERA_FORWARD_GRANTS='arn:aws:iam::111122223333:role/payments-forwarder=stub;$DEV_ROLE=stub'"
    # DEV ONLY: trust the stub's test CA and let .localhost reach 127.0.0.1.
    echo "TESSERA_FORWARD_DEV_CA=$(cd "$dir" && pwd)/stub-ca.pem"
    # capture-sessions: who may open capture sessions (the dev principal).
    echo "TESSERA_CAPTURE_ROLES=$TOKENIZER_ROLE,$DEV_ROLE"
    # DEV ONLY: sessions may name http://localhost[:port] and
    # http://127.0.0.1[:port] origins (the demo checkout page).
    echo "TESSERA_CAPTURE_DEV_ORIGINS=1"
    # The capture function reads the same TESSERA_API_ID/STAGE as the others
    # here (one env file): watch's requests carry no authorizer context, so
    # under the dev principal they pass the API-origin check as the IAM
    # functions' do. In AWS each function has its own API's id and stage.
    # DEV ONLY: curl through `cargo lambda watch` carries no IAM principal.
    echo "TESSERA_DEV_PRINCIPAL=$DEV_ROLE"
  } > "$dir/lambda.env"

  # The dev principal exists only in builds with this feature; sam build never enables it.
  local release=()
  [[ ${DEV_RELEASE:-} == 1 ]] && release=(--release)
  # --disable-cors: watch's own CORS layer would answer any Origin, with
  # credentials; the only CORS a browser may see is the functions' own.
  setsid cargo lambda watch "${release[@]}" --disable-cors -A 127.0.0.1 -P "$lambda_port" ${DEV_WATCH_FLAGS:-} \
    --features tessera-lambda/dev-principal --env-file "$dir/lambda.env" &
  DEV_PIDS+=("$!")
}

# dev_stop: stops what dev_start started (each process group: cargo lambda
# watch runs the functions as its children).
dev_stop() {
  [[ ${#DEV_PIDS[@]} -gt 0 ]] || return 0
  log "stopping ${DEV_PIDS[*]}"
  local pid
  for pid in "${DEV_PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait "${DEV_PIDS[@]}" 2>/dev/null || true
  DEV_PIDS=()
}
