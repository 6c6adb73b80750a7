#include "dualclip/eval/embed.h"

#include <algorithm>
#include <fstream>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"

namespace dualclip::eval {

namespace fs = std::filesystem;

namespace {

// Puts the model in eval mode for the lifetime of the guard, then restores its training flag,
// so the trainer can call the evaluation functions in the middle of a run.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(models::DualEncoder& model) : model_(model), was_training_(model->is_training()) {
    model_->eval();
  }
  ~EvalModeGuard() { model_->train(was_training_); }

 private:
  models::DualEncoder& model_;
  bool was_training_;
};

torch::ScalarType parameter_dtype(models::DualEncoder& model) {
  return model->visual_projection->weight.scalar_type();
}

// Logs progress about ten times over a long job, never for a single batch.
void log_progress(const std::string& what, int64_t done, int64_t total, int64_t batch_size) {
  const int64_t step = std::max<int64_t>(batch_size, (total / 10 + batch_size - 1) / batch_size * batch_size);
  if (total > batch_size && (done % step == 0 || done == total)) {
    log::info("embedded " + std::to_string(done) + "/" + std::to_string(total) + " " + what);
  }
}

}  // namespace

torch::Tensor embed_images(models::DualEncoder& model, const Processor& processor, const std::vector<fs::path>& paths,
                           const EmbedOptions& options) {
  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  const auto dtype = parameter_dtype(model);
  const int64_t total = static_cast<int64_t>(paths.size());

  std::vector<torch::Tensor> chunks;
  for (int64_t start = 0; start < total; start += options.batch_size) {
    const int64_t end = std::min(total, start + options.batch_size);
    std::vector<fs::path> batch(paths.begin() + start, paths.begin() + end);

    // Decode and preprocess on the CPU, project on the model's device, normalise in float32.
    torch::Tensor pixel_values = processor.load_images(batch).to(options.device, dtype);
    torch::Tensor features = model->get_image_features(pixel_values).to(torch::kCPU, torch::kFloat32);
    chunks.push_back(features / features.norm(2, -1, true));
    log_progress("images", end, total, options.batch_size);
  }
  if (chunks.empty()) return torch::empty({0, model->projection_dim()});
  return torch::cat(chunks);
}

torch::Tensor embed_texts(models::DualEncoder& model, const Processor& processor, const std::vector<std::string>& texts,
                          const EmbedOptions& options) {
  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  const int64_t total = static_cast<int64_t>(texts.size());

  std::vector<torch::Tensor> chunks;
  for (int64_t start = 0; start < total; start += options.batch_size) {
    const int64_t end = std::min(total, start + options.batch_size);
    std::vector<std::string> batch(texts.begin() + start, texts.begin() + end);

    // Padding to the longest caption of the batch gives the same embeddings as padding to
    // max_length, because padded positions are masked out of attention and pooling.
    text::BatchEncoding encoding = processor.encode_texts(batch, text::Padding::Longest);
    torch::Tensor token_type_ids;
    if (encoding.token_type_ids.defined()) token_type_ids = encoding.token_type_ids.to(options.device);
    torch::Tensor features = model->get_text_features(encoding.input_ids.to(options.device),
                                                      encoding.attention_mask.to(options.device), token_type_ids)
                                 .to(torch::kCPU, torch::kFloat32);
    chunks.push_back(features / features.norm(2, -1, true));
    log_progress("texts", end, total, options.batch_size);
  }
  if (chunks.empty()) return torch::empty({0, model->projection_dim()});
  return torch::cat(chunks);
}

double logit_scale_exp(models::DualEncoder& model) {
  return std::exp(model->logit_scale.detach().to(torch::kCPU, torch::kFloat32).item<float>());
}

bool has_image_extension(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png" || extension == ".gif" ||
         extension == ".webp";
}

std::vector<fs::path> collect_image_files(const std::vector<std::string>& arguments) {
  std::vector<fs::path> files;
  for (const std::string& argument : arguments) {
    const fs::path path(argument);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(path, fs::directory_options::follow_directory_symlink)) {
        if (entry.is_regular_file() && has_image_extension(entry.path())) found.push_back(entry.path());
      }
      if (found.empty()) {
        throw Error("image folder " + argument + " contains no .jpg, .jpeg, .png, .gif or .webp files");
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
      continue;
    }

    // Fail before any model work when an image cannot be opened.
    if (!fs::exists(path, ec)) throw Error("image file not found: " + argument);
    if (!fs::is_regular_file(path, ec)) throw Error("image path is not a regular file: " + argument);
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error("image file is not readable: " + argument + " (check its permissions)");
    files.push_back(path);
  }
  return files;
}

std::vector<std::string> read_texts_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read texts file " + path.string() + ": " + (fs::exists(path) ? "not readable" : "file not found"));
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    texts.push_back(line);
  }
  if (texts.empty()) throw Error("texts file " + path.string() + " contains no text: write one caption per line");
  return texts;
}

void require_texts(const std::vector<std::string>& texts, const std::string& option) {
  if (texts.empty()) throw Error("no texts given: pass at least one caption with " + option);
}

}  // namespace dualclip::eval
