#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"tokenize", "Print the token ids, tokens and attention mask a model's tokenizer gives for captions.", run_tokenize},
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
  };
  return table;
}

}  // namespace dualclip::cli
