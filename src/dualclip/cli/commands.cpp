#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"create", "Join a pretrained vision tower and text tower into a new dual encoder directory.", run_create},
      {"info", "Print a dual encoder's towers, sizes, parameter counts, projection size and logit scale.", run_info},
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
  };
  return table;
}

}  // namespace dualclip::cli
