#include <iostream>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/models/dual_encoder.h"

namespace dualclip::cli {

int run_create(const std::vector<std::string>& args) {
  ArgParser parser("create",
                   "Join a pretrained vision tower and text tower into a new dual encoder directory, as HF's "
                   "VisionTextDualEncoderModel.from_vision_text_pretrained does.");
  parser.add_option("vision", "", "Vision tower: a model folder or hub id (CLIP, CLIP vision or ViT).", "DIR");
  parser.add_option("text", "", "Text tower: a model folder or hub id (RoBERTa, XLM-RoBERTa, BERT or CLIP).", "DIR");
  parser.add_option("output_dir", "", "Folder to write config.json, model.safetensors and the processor files to.", "DIR");
  parser.add_option("projection_dim", "512", "Size of the shared embedding space both projections map to.", "N");
  parser.add_option("logit_scale_init_value", "2.6592", "Initial logit_scale (the log of the inverse temperature).", "X");
  parser.add_option("seed", "42", "Random seed for the new projections and any pooler the text checkpoint lacks.", "N");
  if (!parser.parse(args)) return 0;

  models::CreateOptions options;
  options.projection_dim = parser.get_int("projection_dim");
  options.logit_scale_init_value = parser.get_double("logit_scale_init_value");
  options.seed = static_cast<uint64_t>(parser.get_int("seed"));
  auto model = models::create_dual_encoder(parser.get("vision"), parser.get("text"), parser.get("output_dir"), options);

  std::cout << "dual encoder with " << models::count_parameters(*model) << " parameters written to "
            << parser.get("output_dir") << "\n";
  return 0;
}

}  // namespace dualclip::cli
