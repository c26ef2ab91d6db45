// Force-included into the fuzz build of the engine: clang cannot multiversion function templates
// (LLAMA4_FMA_CLONES in ops/cpu/ops.h), so the attribute is dropped and each function keeps its one plain
// version (fmaf from libm: the same results, slower), which is all the fuzz targets need.
#pragma once
#define target_clones(...)
