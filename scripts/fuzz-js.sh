#!/usr/bin/env bash
# Coverage-guided fuzzing of the TypeScript parsers with Jazzer.js (libFuzzer for Node.js; the ES modules
# of src/ are instrumented through its loader, TypeScript runs through tsx): test/fuzz/jazzer/TARGET.target.ts.
#
#   scripts/fuzz-js.sh [TARGET|all] [SECONDS]   fuzz TARGET (tokenizer template server; default all, one
#                                              after another) for SECONDS each (default 60)
#   scripts/fuzz-js.sh --smoke                  CI: each target for a fixed number of runs from the seeds only
#   scripts/fuzz-js.sh --build                  the seeds (and the libFuzzer addon where needed), fuzz nothing
#   scripts/fuzz-js.sh --replay TARGET FILE...  run TARGET once on each FILE (a finding, a corpus entry)
#
# Environment: FUZZ_SEED (libFuzzer -seed, default 1), FUZZ_BUILD (default build-fuzz; this script writes
# FUZZ_BUILD/js), FUZZ_NICE (default 19), FUZZ_FLAGS (more libFuzzer flags), FUZZ_SMOKE_RUNS (--smoke's
# -runs per target, the seeds included: default 2000, the server 500), FUZZ_SLOW_MS (CPU ms over which an
# input is a finding, twice in a row; default 250), FUZZ_SLOW_REQUEST_MS (the same for a server request,
# wall time, default 5000), FUZZ_JS_STATS=1 (the server target prints the statuses it got).
# Layout under FUZZ_BUILD/js: seeds/TARGET (written by test/fuzz/jazzer/make-seeds.ts from the shared vocab
# texts, the templates, a request per route), corpus/TARGET (what the fuzzer found, kept between runs),
# artifacts/TARGET/ (crash-*, timeout-*, oom-* inputs), logs/TARGET.log. test/fixtures/fuzz/js-TARGET/ holds
# hand-made inputs and past findings: read as seeds too, and replayed by test/fuzz/jazzer.fuzz.test.ts.
# A finding exits non-zero. Where @jazzer.js/fuzzer's prebuilt addon does not load (it needs glibc >= 2.38),
# FUZZ_BUILD/js/fuzzer.node is built from test/fuzz/jazzer/addon/fuzzer.cpp against clang's libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/fuzz-summary.sh
. scripts/lib/fuzz-summary.sh

TARGETS=(tokenizer template server)
SEED=${FUZZ_SEED:-1}
BUILD=${FUZZ_BUILD:-build-fuzz}/js
NICE=${FUZZ_NICE:-19}

mode=run
case "${1:-}" in
  --smoke) mode=smoke; shift ;;
  --build) mode=build; shift ;;
  --replay) mode=replay; shift ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
esac
want=${1:-all}
seconds=${2:-60}
if [ "$want" != all ] && [[ ! " ${TARGETS[*]} " =~ " $want " ]]; then
  echo "fuzz-js.sh: unknown target '$want' (targets: ${TARGETS[*]})" >&2
  exit 2
fi
[ "$mode" = replay ] && { [ "$want" != all ] && [ $# -ge 2 ] || { echo "usage: fuzz-js.sh --replay TARGET FILE..." >&2; exit 2; }; }
test -f node_modules/@jazzer.js/core/dist/cli.js || { echo "fuzz-js.sh: @jazzer.js/core is not installed (npm install)" >&2; exit 2; }
mkdir -p "$BUILD"

# ---- the libFuzzer addon --------------------------------------------------------------------------------
export JAZZER_FUZZER_ADDON=
if ! node -e "require('@jazzer.js/fuzzer')" >/dev/null 2>&1; then
  addon=$BUILD/fuzzer.node src=test/fuzz/jazzer/addon/fuzzer.cpp
  if [ ! -f "$addon" ] || [ "$src" -nt "$addon" ]; then
    cxx=""
    for v in "" -19 -18 -17 -16 -15 -14; do command -v "clang++$v" >/dev/null && { cxx=clang++$v; break; }; done
    [ -n "$cxx" ] || { echo "fuzz-js.sh: clang is not installed (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
    rt=$("$cxx" -print-runtime-dir)
    lib=""
    for f in "$rt/libclang_rt.fuzzer_no_main-x86_64.a" "$rt/libclang_rt.fuzzer_no_main.a" \
             "$rt/libclang_rt.fuzzer_no_main-$(uname -m).a"; do [ -f "$f" ] && { lib=$f; break; }; done
    [ -n "$lib" ] || { echo "fuzz-js.sh: no libclang_rt.fuzzer_no_main in $rt (Debian: apt-get install libclang-rt-14-dev)" >&2; exit 2; }
    nice -n "$NICE" "$cxx" -O2 -std=c++17 -shared -fPIC -fvisibility=hidden -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS \
      -Inode_modules/node-addon-api -Inode_modules/node-api-headers/include "$src" \
      -Wl,--whole-archive "$lib" -Wl,--no-whole-archive -lpthread -o "$addon.tmp"
    mv "$addon.tmp" "$addon"
  fi
  JAZZER_FUZZER_ADDON=$(realpath "$addon")
fi

# ---- seeds ----------------------------------------------------------------------------------------------
if [ "$mode" != replay ]; then
  if [ "$want" = all ]; then seed_targets=("${TARGETS[@]}"); else seed_targets=("$want"); fi
  for t in "${seed_targets[@]}"; do rm -rf "$BUILD/seeds/$t"; done  # only these: another target may be running
  nice -n "$NICE" node --import tsx test/fuzz/jazzer/make-seeds.ts "$BUILD/seeds" "${seed_targets[@]}" >/dev/null
fi
[ "$mode" = build ] && { echo "fuzz-js.sh: seeds in $BUILD/seeds${JAZZER_FUZZER_ADDON:+, libFuzzer addon $JAZZER_FUZZER_ADDON}"; exit 0; }

# ---- fuzz -----------------------------------------------------------------------------------------------
# per target: Jazzer.js options (instrumented code, sync or async target, the per-input hang limit in ms)
# and libFuzzer's; the finer per-input limit (FUZZ_SLOW_MS) is the targets' own
jazzer_opts() {
  case $1 in
    tokenizer) echo "--sync --includes=src/tokenizer/ --timeout=10000" ;;
    template)  echo "--sync --includes=src/engine/templates/ --includes=@huggingface/jinja/ --timeout=10000" ;;
    server)    echo "--includes=src/server/ --includes=src/engine/conversation --includes=src/engine/slots --timeout=20000" ;;
  esac
}
max_len() { case $1 in tokenizer) echo 1024 ;; template) echo 2048 ;; server) echo 1024 ;; esac; }
smoke_runs() { case $1 in server) echo "${FUZZ_SMOKE_RUNS:-500}" ;; *) echo "${FUZZ_SMOKE_RUNS:-2000}" ;; esac; }

jazzer() { # TARGET LIBFUZZER-ARGS...
  local t=$1; shift
  # shellcheck disable=SC2046
  nice -n "$NICE" node --require ./test/fuzz/jazzer/use-addon.cjs --import tsx node_modules/@jazzer.js/core/dist/cli.js \
    "test/fuzz/jazzer/$t.target" $(jazzer_opts "$t") -- "$@"
}

if [ "$mode" = replay ]; then
  shift
  jazzer "$want" -seed="$SEED" -rss_limit_mb=4096 "$@"
  exit
fi

mkdir -p "$BUILD/logs"
run_target() {
  local t=$1 log="$BUILD/logs/$1.log" corpus dirs=() found=0
  mkdir -p "$BUILD/artifacts/$t"
  local flags=(-seed="$SEED" -max_len="$(max_len "$t")" -rss_limit_mb=4096 -dict="test/fuzz/jazzer/$t.dict"
               -artifact_prefix="$BUILD/artifacts/$t/" -print_final_stats=1)
  if [ "$mode" = smoke ]; then
    # fixed runs from the seeds alone, so a CI run is the same every time
    corpus=$(mktemp -d)
    flags+=(-runs="$(smoke_runs "$t")")
  else
    corpus="$BUILD/corpus/$t"
    mkdir -p "$corpus"
    flags+=(-max_total_time="$seconds")
  fi
  dirs=("$corpus" "$BUILD/seeds/$t")
  [ -d "test/fixtures/fuzz/js-$t" ] && dirs+=("test/fixtures/fuzz/js-$t")
  local t0=$SECONDS
  # shellcheck disable=SC2086
  if jazzer "$t" "${flags[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1 && grep -q '^stat::number_of_executed_units' "$log"; then
    fuzz_summary "$log" "fuzz_js_$t" " in $((SECONDS - t0))s"
  else
    found=1
    echo "fuzz_js_$t: FINDING (log $log):" >&2
    grep -E 'Uncaught Exception|FuzzFinding|ERROR|Error:|==ABORTING|Test unit written|SUMMARY|ALARM' "$log" | head -8 >&2
  fi
  [ "$mode" = smoke ] && rm -rf "$corpus"
  return $found
}
ran=0 failed=0
for t in "${TARGETS[@]}"; do
  [ "$want" = all ] || [ "$want" = "$t" ] || continue
  ran=$((ran + 1))
  run_target "$t" || failed=$((failed + 1))
done
echo "fuzz-js: $((ran - failed)) passed, $failed failed"
[ "$failed" = 0 ]
