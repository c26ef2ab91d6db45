# Turns a .cu/.cuh of native/src/ops/cuda into C++ for the emulator (emu.h): no CUDA headers, launches
# kernel<<<grid, block, smem, stream>>>(args) as emu::launch(grid, block, smem, stream, [=] { kernel(args); }).
import re, sys, pathlib
src, dst = sys.argv[1], sys.argv[2]
s = pathlib.Path(src).read_text()
s = s.replace('#include <cuda_fp16.h>', '').replace('#include <cuda_runtime.h>', '')
s = s.replace('#include "ops/cuda/common.cuh"', '#include "common_emu.cuh"')
s = s.replace('extern __shared__ float smem[];', 'float* smem = emu::dyn_smem();')
pat = re.compile(r'([\w:]+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)
def rep(m):
    cfg = m.group(2)
    return f'emu::launch({cfg}, [=] {{ {m.group(1)}({m.group(3)}); }});'
s = pat.sub(rep, s)
pathlib.Path(dst).write_text(s)
