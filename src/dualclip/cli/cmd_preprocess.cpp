// dualclip preprocess: image files -> the pixel_values a model's image processor produces,
// written as one safetensors file.
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/vision/processor.h"

namespace dualclip::cli {

int run_preprocess(const std::vector<std::string>& args) {
  ArgParser parser("preprocess",
                   "Turn image files into pixel_values with a model's preprocessor_config.json and save them as safetensors.");
  parser.add_option("model", "", "Model directory or cached hub id whose preprocessor_config.json is used.", "DIR");
  parser.add_list("images", "Image files (JPEG, PNG, GIF first frame, WebP) to preprocess, in output order.", "FILE");
  parser.add_option("output", "", "Safetensors file to write, with tensor pixel_values of shape [N, 3, H, W].", "FILE");
  parser.add_flag("ignore_exif", "Use the stored pixel grid and ignore the EXIF orientation tag.");
  parser.add_flag("fast", "Use the fast path (reduced-scale JPEG decoding), which differs slightly from Hugging Face's pixels.");
  if (!parser.parse(args)) return 0;
  for (const auto& name : {"model", "output"}) {
    if (!parser.given(name)) throw Error(std::string("missing required option --") + name + "; see 'dualclip preprocess --help'");
  }
  const std::vector<std::string> images = parser.get_list("images");
  if (images.empty()) throw Error("missing required option --images; give one or more image files");

  // The processor of the model.
  const auto model_dir = io::resolve_model_dir(parser.get("model"));
  const auto config_path = model_dir / "preprocessor_config.json";
  if (!std::filesystem::exists(config_path)) {
    throw Error("preprocessor_config.json not found in " + model_dir.string() +
                "; the model directory needs the image processor saved with save_pretrained");
  }
  const vision::ImageProcessor processor(vision::read_image_processor_config(config_path));

  // Every image must come out at the same size to stack into one batch.
  std::vector<torch::Tensor> pixel_values;
  for (const auto& image : images) {
    pixel_values.push_back(processor.load(image, parser.flag("fast"), !parser.flag("ignore_exif")));
    if (pixel_values.back().sizes() != pixel_values.front().sizes()) {
      throw Error("image " + image + " preprocesses to " + c10::str(pixel_values.back().sizes()) + " but " + images.front() +
                  " to " + c10::str(pixel_values.front().sizes()) +
                  "; the processor config has no center crop, so give images of one size");
    }
  }

  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"images", nlohmann::json(images).dump()}, {"fast", parser.flag("fast") ? "true" : "false"}};
  const torch::Tensor batch = torch::stack(pixel_values);
  io::write_safetensors(parser.get("output"), {{"pixel_values", batch}}, metadata);
  std::cout << "wrote pixel_values " << c10::str(batch.sizes()) << " to " << parser.get("output") << "\n";
  return 0;
}

}  // namespace dualclip::cli
