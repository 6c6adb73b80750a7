// Facts about the running build and machine that users need when they report numbers: the
// libtorch version, whether CUDA is usable, which BLAS libtorch calls, and thread settings.
#pragma once

#include <string>

namespace dualclip::runtime {

std::string dualclip_version();
std::string torch_version();
bool cuda_available();

// The BLAS library that libtorch's matrix products run on, e.g. "OpenBLAS 0.3.21 (OpenMP)
// at /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", or "reference BLAS (slow)".
std::string blas_description();

// Sets libtorch's intra-op threads to `threads` (0: $OMP_NUM_THREADS when set, else the
// number of cores this process may use) and, when the BLAS is a pthread OpenBLAS, pins its own pool to one thread so the two
// pools do not compete for the same cores. Returns the thread count in use.
int configure_threads(int threads = 0);

}  // namespace dualclip::runtime
