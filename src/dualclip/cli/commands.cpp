#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
      {"make-dataset", "Write a synthetic image-caption dataset (coloured shapes) in COCO captions layout.", run_make_dataset},
      {"preprocess", "Turn image files into pixel_values with a model's image processor and save them as safetensors.", run_preprocess},
      {"plot", "Draw a training run's loss curve from its metrics.jsonl into a PNG.", run_plot},
  };
  return table;
}

}  // namespace dualclip::cli
