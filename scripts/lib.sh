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
