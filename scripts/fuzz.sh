#!/usr/bin/env bash
# Coverage-guided fuzzing of the native GGUF reader and loaders (libFuzzer + ASan + UBSan, native/fuzz/).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   build, then fuzz TARGET (gguf model split depth_gates; default
#                                           all, one after another) for SECONDS each (default 60)
#   scripts/fuzz.sh --smoke                  CI: each target for a fixed number of runs from the seeds only
#   scripts/fuzz.sh --build                  build the targets and the seeds, fuzz nothing
#
# Environment: FUZZ_SEED (libFuzzer -seed, default 1), FUZZ_BUILD (build directory, default build-fuzz),
# FUZZ_JOBS (compile jobs, default 2), FUZZ_NICE (default 19), FUZZ_FLAGS (more libFuzzer flags).
# Layout under FUZZ_BUILD: seeds/TARGET (written by make_seeds: tiny models, adapters, split sets, the first
# bytes of the small shared models), corpus/TARGET (what the fuzzer found, kept between runs),
# artifacts/TARGET/ (crash-*, leak-*, oom-*, timeout-* inputs), logs/TARGET.log. A finding exits non-zero;
# rerun it with `FUZZ_BUILD/native/fuzz/fuzz_TARGET ARTIFACT`. test/fixtures/fuzz/TARGET/ holds the small
# inputs of past findings, read as seeds too.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/fuzz-summary.sh
. scripts/lib/fuzz-summary.sh

TARGETS=(gguf model split depth_gates)
SEED=${FUZZ_SEED:-1}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-2}
NICE=${FUZZ_NICE:-19}
SHARED_MODELS=../shared/models

mode=run
case "${1:-}" in
  --smoke) mode=smoke; shift ;;
  --build) mode=build; shift ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
esac
want=${1:-all}
seconds=${2:-60}
if [ "$want" != all ] && [[ ! " ${TARGETS[*]} " =~ " $want " ]]; then
  echo "fuzz.sh: unknown target '$want' (targets: ${TARGETS[*]})" >&2
  exit 2
fi

find_clang() {
  for v in "" -19 -18 -17 -16 -15 -14; do
    if command -v "clang++$v" >/dev/null && command -v "clang$v" >/dev/null; then echo "$v"; return 0; fi
  done
  return 1
}
if ! suffix=$(find_clang); then
  echo "fuzz.sh: clang is not installed (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

# ---- build --------------------------------------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  nice -n "$NICE" cmake -S . -B "$BUILD" "${gen[@]}" -DLLAMA4_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER="clang$suffix" -DCMAKE_CXX_COMPILER="clang++$suffix" >/dev/null
fi
nice -n "$NICE" cmake --build "$BUILD" --parallel "$JOBS" | grep -Ev '^(\[|-- |ninja: no work)' || true
test -x "$BUILD/native/fuzz/fuzz_gguf" || { echo "fuzz.sh: the build failed" >&2; exit 1; }

# the small shared models (never copied into the repository: make_seeds keeps at most their first 64 KiB)
small=()
for f in stories260K.gguf synthetic/tiny-llama4-q4_0.synthetic.gguf synthetic/tiny-llama-256-q4_k_m.synthetic.gguf \
         vocab/ggml-vocab-llama-spm.gguf vocab/ggml-vocab-gpt-2.gguf vocab/ggml-vocab-llama3-derived.gguf; do
  [ -f "$SHARED_MODELS/$f" ] && small+=("$SHARED_MODELS/$f")
done
rm -rf "$BUILD/seeds"
"$BUILD/native/fuzz/make_seeds" "$BUILD/seeds" "${small[@]}" >/dev/null
[ "$mode" = build ] && { echo "fuzz.sh: built $BUILD/native/fuzz/fuzz_{${TARGETS[*]// /,}}, seeds in $BUILD/seeds"; exit 0; }

# ---- fuzz ---------------------------------------------------------------------------------------------
mkdir -p "$BUILD/logs"
run_target() {
  local t=$1 log="$BUILD/logs/$1.log" corpus dirs=() found=0
  mkdir -p "$BUILD/artifacts/$t"
  local flags=(-seed="$SEED" -dict="$BUILD/seeds/gguf.dict" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024
               -artifact_prefix="$BUILD/artifacts/$t/" -print_final_stats=1)
  if [ "$mode" = smoke ]; then
    # fixed runs from the seeds alone, so a CI run is the same every time
    corpus=$(mktemp -d)
    flags+=(-runs="${FUZZ_SMOKE_RUNS:-20000}")
  else
    corpus="$BUILD/corpus/$t"
    mkdir -p "$corpus"
    flags+=(-max_total_time="$seconds")
  fi
  dirs=("$corpus" "$BUILD/seeds/$t")
  [ -d "test/fixtures/fuzz/$t" ] && dirs+=("test/fixtures/fuzz/$t")
  # shellcheck disable=SC2086
  if nice -n "$NICE" "$BUILD/native/fuzz/fuzz_$t" "${flags[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1; then
    fuzz_summary "$log" "fuzz_$t"
  else
    found=1
    echo "fuzz_$t: FINDING (log $log):" >&2
    grep -E 'ERROR:|runtime error|==ABORTING|Test unit written|uncaught exception|SUMMARY' "$log" | head -8 >&2
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
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ "$failed" = 0 ]
