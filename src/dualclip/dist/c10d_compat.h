// The c10d pieces dualclip uses, behind one header because their home classes moved between
// libtorch versions. In 1.13 Gloo and NCCL derive from c10d::ProcessGroup; from 2.0 on they
// derive from c10d::Backend and ProcessGroup became a dispatcher over backends. Both
// versions keep the same collective signatures (allreduce, broadcast, allgather, barrier
// returning c10::intrusive_ptr<c10d::Work>), the same ProcessGroupGloo::Options fields and
// the same TCPStore/PrefixStore constructors, so only the base class differs.
// NOTE: only the 1.13 branch is compiled and tested here (Debian's libtorch-dev); the 2.x
// branch follows pytorch/pytorch's ProcessGroupGloo.hpp and ProcessGroupNCCL.hpp of the 2.x
// series and has not been built.
#pragma once

// USE_C10D_GLOO (and USE_C10D_NCCL with -DDUALCLIP_WITH_NCCL=ON) come from CMakeLists.txt,
// because libtorch's TorchConfig.cmake does not export the macros its c10d headers test.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "dualclip/core/compat.h"

#if !defined(USE_C10D_GLOO)
#error "dualclip's dist part needs c10d's Gloo backend: build with -DUSE_C10D_GLOO (CMakeLists.txt sets it)"
#endif

namespace dualclip::dist::compat {

// The common base of c10d's Gloo and NCCL implementations.
#if DUALCLIP_TORCH_AT_LEAST(2, 0)
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

}  // namespace dualclip::dist::compat
