// What the dist sources share beyond the public header: the joined group and a wait that
// turns c10d's failures into messages naming the ranks involved. Not for other parts.
#pragma once

#include <string>

#include "dualclip/dist/c10d_compat.h"

namespace dualclip::dist::detail {

// The group joined by initialize(); throws when is_distributed() is false.
compat::CollectiveBackend& group();

// The device collectives run on: CPU for Gloo, the CUDA device for NCCL.
torch::Device communication_device();

// Waits for `work`; on failure throws std::runtime_error saying which collective failed on
// which rank, c10d's own message, and which ranks on this machine have exited or stopped.
void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& collective);

}  // namespace dualclip::dist::detail
