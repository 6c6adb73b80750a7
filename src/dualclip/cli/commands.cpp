#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"tokenize", "Print the token ids, tokens and attention mask a model's tokenizer gives for captions.", run_tokenize},
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
      {"make-dataset", "Write a synthetic image-caption dataset (coloured shapes) in COCO captions layout.", run_make_dataset},
      {"plot", "Draw a training run's loss curve from its metrics.jsonl into a PNG.", run_plot},
      {"demo", "Build, train and evaluate a small dual encoder on generated data, with heatmaps and a report.", run_demo},
  };
  return table;
}

}  // namespace dualclip::cli
