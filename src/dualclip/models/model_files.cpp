// Dual encoder directories in HF's layout: loading (a vision-text-dual-encoder or a full CLIP
// checkpoint), saving, and creating one from two tower checkpoints.
#include <set>

#include <torch/nn/modules/linear.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/models/config.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/models/towers.h"

namespace dualclip::models {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "a, b, c and 12 more" for notes that must stay one line.
std::string list_names(const std::vector<std::string>& names, size_t limit = 8) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < limit; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > limit) text += " and " + std::to_string(names.size() - limit) + " more";
  return text;
}

// Copies `weights` into the parameters of `module` by name. Names of `module` that the weights
// lack are an error unless `may_be_missing` accepts them (those keep their initial values and
// are returned); weights the module has no parameter for are listed in one note and ignored.
std::vector<std::string> copy_weights(torch::nn::Module& module, const io::TensorMap& weights, const std::string& source,
                                      const std::function<bool(const std::string&)>& may_be_missing = {}) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> missing, initialised;
  std::set<std::string> used;

  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& parameter = item.value();
    auto found = weights.find(name);
    if (found == weights.end()) {
      (may_be_missing && may_be_missing(name) ? initialised : missing).push_back(name);
      continue;
    }
    const torch::Tensor& weight = found->second;
    if (weight.sizes() != parameter.sizes()) {
      throw Error(source + ": weight \"" + name + "\" has shape " + c10::str(weight.sizes()) + " but the config implies " +
                  c10::str(parameter.sizes()) + "; the weights do not belong to this config.json");
    }
    if (!weight.is_floating_point()) {
      throw Error(source + ": weight \"" + name + "\" has dtype " + std::string(c10::toString(weight.scalar_type())) +
                  ", expected a floating-point tensor");
    }
    parameter.copy_(weight);
    used.insert(name);
  }

  if (!missing.empty()) {
    throw Error(source + ": " + std::to_string(missing.size()) + " weights the config needs are missing: " +
                list_names(missing) + "; the checkpoint is incomplete or belongs to another model");
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : weights) {
    if (!used.count(name)) unexpected.push_back(name);
  }
  if (!unexpected.empty()) {
    log::info(source + ": ignored " + std::to_string(unexpected.size()) + " weights the model does not use: " +
              list_names(unexpected));
  }
  return initialised;
}

// A tower checkpoint's weights under the tower's own names: keys of a task model such as
// "roberta.encoder..." lose their base-model prefix; everything else passes unchanged.
io::TensorMap strip_base_prefix(const io::TensorMap& weights, const std::string& model_type) {
  std::string prefix = base_model_prefix(model_type);
  if (prefix.empty()) return weights;
  prefix += ".";
  io::TensorMap renamed;
  for (const auto& [name, tensor] : weights) {
    bool prefixed = name.compare(0, prefix.size(), prefix) == 0;
    renamed[prefixed ? name.substr(prefix.size()) : name] = tensor;
  }
  return renamed;
}

// Loads a tower checkpoint into `tower`. A pooler the checkpoint lacks (task models such as
// RobertaForMaskedLM are built without one) keeps its fresh HF initialisation, as HF does.
void load_tower(torch::nn::Module& tower, const std::string& model_type, const fs::path& dir) {
  io::TensorMap weights = strip_base_prefix(io::load_weights(dir), model_type);
  auto pooler = [](const std::string& name) { return name.rfind("pooler.", 0) == 0; };
  std::vector<std::string> initialised = copy_weights(tower, weights, dir.string(), pooler);
  if (!initialised.empty()) {
    log::info(dir.string() + ": newly initialised (not in the checkpoint): " + list_names(initialised));
  }
}

std::string dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    case torch::kFloat64: return "float64";
    default: return std::string(c10::toString(dtype));
  }
}

io::TensorMap state_dict(const torch::nn::Module& module) {
  io::TensorMap tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) tensors[item.key()] = item.value().detach();
  return tensors;
}

// The processor files of a dual encoder: the text tower's tokenizer files and the vision
// tower's preprocessor_config.json, whose processor_class becomes HF's dual processor.
void copy_processor_files(const fs::path& vision_dir, const fs::path& text_dir, const fs::path& output_dir) {
  static const char* const kTokenizerFiles[] = {
      "vocab.json", "merges.txt", "vocab.txt", "tokenizer.json", "sentencepiece.bpe.model", "spiece.model",
      "added_tokens.json", "special_tokens_map.json"};
  int copied = 0;
  for (const char* name : kTokenizerFiles) {
    if (fs::exists(text_dir / name)) {
      fs::copy_file(text_dir / name, output_dir / name, fs::copy_options::overwrite_existing);
      ++copied;
    }
  }

  for (const auto& [dir, name] : {std::pair{text_dir, "tokenizer_config.json"}, {vision_dir, "preprocessor_config.json"}}) {
    if (!fs::exists(dir / name)) continue;
    json file = io::read_json(dir / name);
    file["processor_class"] = "VisionTextDualEncoderProcessor";
    io::write_json(output_dir / name, file);
    ++copied;
  }
  if (!fs::exists(text_dir / "tokenizer_config.json") && copied == 0) {
    log::warn(text_dir.string() + " has no tokenizer files; add them to " + output_dir.string() + " before training");
  }
  if (!fs::exists(vision_dir / "preprocessor_config.json")) {
    log::warn(vision_dir.string() + " has no preprocessor_config.json; add one to " + output_dir.string() +
              " before training");
  }
}

}  // namespace

std::shared_ptr<VisionTower> load_vision_tower(const std::string& name_or_path) {
  fs::path dir = io::resolve_model_dir(name_or_path);
  json config = vision_tower_config(io::read_json(dir / "config.json"), (dir / "config.json").string());
  auto tower = make_vision_tower(config, /*wrapped=*/true);
  load_tower(*tower, tower->model_type(), dir);
  tower->eval();
  return tower;
}

std::shared_ptr<TextTower> load_text_tower(const std::string& name_or_path) {
  fs::path dir = io::resolve_model_dir(name_or_path);
  json config = text_tower_config(io::read_json(dir / "config.json"), (dir / "config.json").string());
  auto tower = make_text_tower(config, /*wrapped=*/true);
  load_tower(*tower, tower->model_type(), dir);
  tower->eval();
  return tower;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters(/*recurse=*/true)) total += parameter.numel();
  return total;
}

DualEncoder load_dual_encoder(const std::string& name_or_path, const LoadOptions& options) {
  fs::path dir = io::resolve_model_dir(name_or_path);
  json config = io::read_json(dir / "config.json");
  std::string model_type = config.is_object() ? config.value("model_type", std::string()) : std::string();
  if (model_type != "vision-text-dual-encoder" && model_type != "clip") {
    if (model_type.empty()) throw Error((dir / "config.json").string() + ": required field \"model_type\" is missing");
    throw Error((dir / "config.json").string() + ": model_type \"" + model_type +
                "\" is not a dual encoder (supported: vision-text-dual-encoder, clip); join two towers with "
                "`dualclip create --vision DIR --text DIR --output_dir DIR`");
  }

  DualEncoder model(config);
  copy_weights(*model, io::load_weights(dir), dir.string());
  model->to(options.device, options.dtype);
  model->eval();
  return model;
}

void save_dual_encoder(DualEncoder& model, const fs::path& output_dir) {
  fs::create_directories(output_dir);
  json config = model->config();
  config["torch_dtype"] = dtype_name(model->logit_scale.scalar_type());
  io::write_safetensors(output_dir / "model.safetensors", state_dict(*model));
  io::write_json(output_dir / "config.json", config);
}

DualEncoder create_dual_encoder(const std::string& vision_dir, const std::string& text_dir, const fs::path& output_dir,
                                const CreateOptions& options) {
  // Step 1: both towers' configs, with defaults filled in as HF's composition config writes them.
  fs::path vision_path = io::resolve_model_dir(vision_dir);
  fs::path text_path = io::resolve_model_dir(text_dir);
  json vision_config = vision_tower_config(io::read_json(vision_path / "config.json"), (vision_path / "config.json").string());
  json text_config = text_tower_config(io::read_json(text_path / "config.json"), (text_path / "config.json").string());
  vision_config["_name_or_path"] = vision_dir;
  text_config["_name_or_path"] = text_dir;
  json config = make_dual_encoder_config(vision_config, text_config, options.projection_dim, options.logit_scale_init_value);

  // Step 2: a fresh model (projections kaiming-uniform, logit_scale at its initial value),
  // then the towers' weights over it.
  torch::manual_seed(options.seed);
  DualEncoder model(config);
  load_tower(*model->vision_model, model->vision_model->model_type(), vision_path);
  load_tower(*model->text_model, model->text_model->model_type(), text_path);

  // Step 3: the directory.
  save_dual_encoder(model, output_dir);
  copy_processor_files(vision_path, text_path, output_dir);
  log::info("wrote a " + model->vision_model->model_type() + " + " + model->text_model->model_type() +
            " dual encoder to " + output_dir.string());
  return model;
}

void save_random_tower(const json& config, const fs::path& output_dir, uint64_t seed) {
  std::string model_type = config.value("model_type", std::string());
  torch::manual_seed(seed);
  fs::create_directories(output_dir);

  // A full CLIP model is a dual encoder in its own right.
  if (model_type == "clip") {
    DualEncoder model(config);
    save_dual_encoder(model, output_dir);
    return;
  }

  bool vision = model_type == "clip_vision_model" || model_type == "vit";
  json filled = vision ? vision_tower_config(config, "tower config") : text_tower_config(config, "tower config");
  std::shared_ptr<torch::nn::Module> tower;
  if (vision) {
    tower = make_vision_tower(filled, /*wrapped=*/true);
  } else {
    tower = make_text_tower(filled, /*wrapped=*/true);
  }
  io::write_safetensors(output_dir / "model.safetensors", state_dict(*tower));
  io::write_json(output_dir / "config.json", config);
}

}  // namespace dualclip::models
