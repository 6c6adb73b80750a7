#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "Train a dual encoder on image-caption pairs as run_clip.py with Hugging Face's Trainer does.", run_train},
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
  };
  return table;
}

}  // namespace dualclip::cli
