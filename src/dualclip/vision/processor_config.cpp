// preprocessor_config.json as transformers 4.40's CLIPImageProcessor.from_pretrained reads it:
// the current form ("size": {"shortest_edge": N} or {"height", "width"}, "crop_size":
// {"height", "width"}) and the legacy form of openai/clip-vit-base-patch32 ("size": 224,
// "crop_size": 224). Unknown keys (processor_class, _valid_processor_keys, ...) are ignored.
#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/vision/processor.h"

namespace dualclip::vision {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& key, const std::string& problem) {
  throw Error("invalid image processor config " + path.string() + ": key \"" + key + "\" " + problem +
              "; fix the file or regenerate it with save_pretrained");
}

int64_t read_positive_int(const std::filesystem::path& path, const std::string& key, const json& value) {
  if (!value.is_number_integer() || value.get<int64_t>() <= 0) fail(path, key, "must be a positive integer");
  return value.get<int64_t>();
}

bool read_bool(const std::filesystem::path& path, const std::string& key, const json& value) {
  if (!value.is_boolean()) fail(path, key, "must be true or false");
  return value.get<bool>();
}

// Fills `out` from a list of three numbers or from one number used for every channel.
void read_channels(const std::filesystem::path& path, const std::string& key, const json& value,
                   std::array<float, 3>* out) {
  if (value.is_number()) {
    out->fill(value.get<float>());
    return;
  }
  if (!value.is_array() || value.size() != 3) fail(path, key, "must be a list of 3 numbers (one per RGB channel)");
  for (size_t c = 0; c < 3; ++c) {
    if (!value[c].is_number()) fail(path, key, "must be a list of 3 numbers (one per RGB channel)");
    (*out)[c] = value[c].get<float>();  // the processor casts mean and std to float32
  }
}

void read_size(const std::filesystem::path& path, const json& size, bool default_to_square,
               ImageProcessorConfig* config) {
  // A bare integer is the shortest edge for CLIP's resize and a square for ViT's.
  if (size.is_number()) {
    const int64_t n = read_positive_int(path, "size", size);
    config->shortest_edge = default_to_square ? 0 : n;
    config->resize_height = config->resize_width = default_to_square ? n : 0;
    return;
  }
  if (size.is_object() && size.contains("shortest_edge")) {
    config->shortest_edge = read_positive_int(path, "size.shortest_edge", size["shortest_edge"]);
    config->resize_height = config->resize_width = 0;
    return;
  }
  if (size.is_object() && size.contains("height") && size.contains("width")) {
    config->shortest_edge = 0;
    config->resize_height = read_positive_int(path, "size.height", size["height"]);
    config->resize_width = read_positive_int(path, "size.width", size["width"]);
    return;
  }
  fail(path, "size", "must be an integer, {\"shortest_edge\": N} or {\"height\": H, \"width\": W}");
}

void read_crop_size(const std::filesystem::path& path, const json& crop, ImageProcessorConfig* config) {
  if (crop.is_number()) {
    config->crop_height = config->crop_width = read_positive_int(path, "crop_size", crop);
    return;
  }
  if (crop.is_object() && crop.contains("height") && crop.contains("width")) {
    config->crop_height = read_positive_int(path, "crop_size.height", crop["height"]);
    config->crop_width = read_positive_int(path, "crop_size.width", crop["width"]);
    return;
  }
  fail(path, "crop_size", "must be an integer or {\"height\": H, \"width\": W}");
}

ResampleFilter read_resample(const std::filesystem::path& path, const json& value) {
  if (!value.is_number_integer()) fail(path, "resample", "must be an integer (PIL.Image.Resampling)");
  switch (value.get<int>()) {
    case 1: return ResampleFilter::Lanczos;
    case 2: return ResampleFilter::Bilinear;
    case 3: return ResampleFilter::Bicubic;
    case 4: return ResampleFilter::Box;
    case 5: return ResampleFilter::Hamming;
    default: break;
  }
  fail(path, "resample", "is " + value.dump() + "; supported are 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), 4 (BOX), 5 (HAMMING)");
}

}  // namespace

ImageProcessorConfig read_image_processor_config(const std::filesystem::path& path) {
  const json root = json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    throw Error("invalid image processor config " + path.string() + ": not a JSON object");
  }

  // ViTImageProcessor's defaults differ from CLIP's (square 224 resize, bilinear, no crop,
  // mean and std 0.5); any other processor type is read with CLIP's defaults.
  ImageProcessorConfig config;
  std::string type = root.value("image_processor_type", root.value("feature_extractor_type", std::string()));
  const bool is_vit = type.rfind("ViT", 0) == 0;
  if (is_vit) {
    config.shortest_edge = 0;
    config.resize_height = config.resize_width = 224;
    config.resample = ResampleFilter::Bilinear;
    config.do_center_crop = false;
    config.image_mean = {0.5f, 0.5f, 0.5f};
    config.image_std = {0.5f, 0.5f, 0.5f};
  }

  auto present = [&](const char* key) { return root.contains(key) && !root[key].is_null(); };
  if (present("do_resize")) config.do_resize = read_bool(path, "do_resize", root["do_resize"]);
  if (present("size")) read_size(path, root["size"], is_vit, &config);
  if (present("resample")) config.resample = read_resample(path, root["resample"]);
  if (present("do_center_crop")) config.do_center_crop = read_bool(path, "do_center_crop", root["do_center_crop"]);
  if (present("crop_size")) read_crop_size(path, root["crop_size"], &config);
  if (present("do_rescale")) config.do_rescale = read_bool(path, "do_rescale", root["do_rescale"]);
  if (present("rescale_factor")) {
    if (!root["rescale_factor"].is_number()) fail(path, "rescale_factor", "must be a number");
    config.rescale_factor = root["rescale_factor"].get<double>();
  }
  if (present("do_normalize")) config.do_normalize = read_bool(path, "do_normalize", root["do_normalize"]);
  if (present("image_mean")) read_channels(path, "image_mean", root["image_mean"], &config.image_mean);
  if (present("image_std")) read_channels(path, "image_std", root["image_std"], &config.image_std);
  for (float s : config.image_std) {
    if (s == 0.0f) fail(path, "image_std", "contains 0, which would divide by zero");
  }
  return config;
}

}  // namespace dualclip::vision
