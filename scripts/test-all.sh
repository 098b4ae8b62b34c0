#!/usr/bin/env bash
# Provisions what the tests need when it is missing, then runs everything:
#   node_modules (npm ci), the generated on-device model, redis-server and chromium (apt, as root),
#   the type check, the build, and the whole vitest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "test:all: installing dependencies (npm ci)"
  npm ci
fi

node scripts/generate-model.mjs --if-missing
node scripts/generate-asr-model.mjs --if-missing
node scripts/generate-gguf-model.mjs --if-missing
node scripts/generate-tts-model.mjs --if-missing

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test:all: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test:all: the tests need ${missing[*]} (Debian packages redis-server and chromium)." >&2
    echo "test:all: run this command as root to install them, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "test:all: type check"
npx tsc --noEmit
echo "test:all: build"
npx tsup --silent
echo "test:all: tests"
npx vitest run
