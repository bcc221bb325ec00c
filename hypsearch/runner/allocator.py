"""Keep freed memory in the process between the training steps of a trial on the CPU.

A step allocates and frees tensors of megabytes (activations, gradients, a population's dropout
masks). glibc serves such sizes with fresh `mmap`s and returns them on free, so every step
page-faults its memory back in. At K = 128 on examples/packed_hpo.hyp that was about 2,000 minor
faults and a quarter of a packed step's CPU time in the kernel (benchmarks/bench_packed.py). For the
trainer's conv net and ResNet-style cases it was 42% and 29% of a train step, and most of the
step-to-step noise (benchmarks/bench_train.py, one thread). Raising glibc's mmap and trim
thresholds keeps freed blocks in the heap for the next step. `fit` and `train_population` do it
when they train on a CPU. It concerns the whole process (a trial's worker: the sandbox's or a Ray
worker; the caller's own process for `hypsearch.optimize` inline) and costs resident memory that
the process keeps instead of returning: at most what one step held at its peak, plus up to
TRIM_THRESHOLD of free heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20  # blocks up to 256 MiB come from the heap and go back to it
TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top kept up to 1 GiB

_done: list = []


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where there is no glibc."""
    if _done:
        return _done[0]
    ok = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt): its own allocator's way
        ok = False
    _done.append(ok)
    return ok
