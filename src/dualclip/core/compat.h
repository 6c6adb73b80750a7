// Differences between libtorch 1.13 (Debian's libtorch-dev) and 2.x (CUDA builds, pip torch).
// Everything version-dependent goes through here, keyed on TORCH_VERSION_MAJOR/MINOR, so a
// build against another libtorch is a compile away.
#pragma once

#include <torch/version.h>

#define DUALCLIP_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// torch::scaled_dot_product_attention (fused attention kernels) exists from 2.0 on.
#define DUALCLIP_HAS_SDPA DUALCLIP_TORCH_AT_LEAST(2, 0)
