#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/models/dual_encoder.h"

namespace dualclip::cli {

namespace {

// "1,234,567" so that large counts read at a glance.
std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string tower_line(const nlohmann::json& config, const std::string& model_type, int64_t parameters) {
  std::ostringstream line;
  line << model_type << ", hidden_size " << config.value("hidden_size", 0) << ", " << config.value("num_hidden_layers", 0)
       << " layers, " << config.value("num_attention_heads", 0) << " heads, intermediate_size "
       << config.value("intermediate_size", 0);
  if (config.contains("image_size")) {
    line << ", image_size " << config.value("image_size", 0) << " (patch_size " << config.value("patch_size", 0) << ")";
  } else {
    line << ", max_position_embeddings " << config.value("max_position_embeddings", 0) << ", vocab_size "
         << config.value("vocab_size", 0);
  }
  line << ", hidden_act " << config.value("hidden_act", std::string("?")) << "; " << with_commas(parameters)
       << " parameters";
  return line.str();
}

}  // namespace

int run_info(const std::vector<std::string>& args) {
  ArgParser parser("info", "Print what a dual encoder directory holds: each tower's type and sizes, parameter counts, "
                           "the projection size and the logit scale.");
  parser.add_option("model", "", "Dual encoder folder or hub id (a vision-text-dual-encoder or a full CLIP model).", "DIR");
  if (!parser.parse(args)) return 0;

  models::DualEncoder model = models::load_dual_encoder(parser.get("model"));
  const double logit_scale = model->logit_scale.item<double>();
  const int64_t projections = models::count_parameters(*model->visual_projection) +
                              models::count_parameters(*model->text_projection);

  std::cout << "model: " << parser.get("model") << " (" << model->config().value("model_type", std::string()) << ")\n"
            << "vision tower: "
            << tower_line(model->vision_model->config(), model->vision_model->model_type(),
                          models::count_parameters(*model->vision_model))
            << "\n"
            << "text tower: "
            << tower_line(model->text_model->config(), model->text_model->model_type(),
                          models::count_parameters(*model->text_model))
            << "\n"
            << "projection_dim: " << model->projection_dim() << " (visual_projection + text_projection: "
            << with_commas(projections) << " parameters)\n"
            << std::setprecision(6) << "logit_scale: " << logit_scale << " (exp(logit_scale) = " << std::exp(logit_scale)
            << ")\n"
            << "total: " << with_commas(models::count_parameters(*model)) << " parameters\n";
  return 0;
}

}  // namespace dualclip::cli
