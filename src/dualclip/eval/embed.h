// Normalised image and text embeddings computed in batches, so that thousands of inputs
// never sit in memory as pixels or token ids at once; only the [N, projection_dim]
// embeddings are kept. Also the input lists (image files, caption files) and the
// safetensors file `dualclip embed` writes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "dualclip/eval/processor.h"
#include "dualclip/models/dual_encoder.h"

namespace dualclip::eval {

struct EmbedOptions {
  int64_t batch_size = 64;
  torch::Device device = torch::kCPU;  // where the model's parameters are
};

// L2-normalised image_embeds of `paths`, float32 on the CPU, [paths.size(), projection_dim].
// The model runs in eval mode without gradients; its training flag is restored afterwards.
torch::Tensor embed_images(models::DualEncoder& model, const Processor& processor,
                           const std::vector<std::filesystem::path>& paths, const EmbedOptions& options);

// L2-normalised text_embeds of `texts`, float32 on the CPU, [texts.size(), projection_dim].
torch::Tensor embed_texts(models::DualEncoder& model, const Processor& processor,
                          const std::vector<std::string>& texts, const EmbedOptions& options);

// exp(logit_scale) of the model as a float, the factor between cosine similarities and logits.
double logit_scale_exp(models::DualEncoder& model);

// True for the file name extensions the image decoder reads (.jpg .jpeg .png .gif .webp, any case).
bool has_image_extension(const std::filesystem::path& path);

// Expands `--images` arguments: a file is kept as given, a folder contributes every image file
// below it (sorted). Throws dualclip::Error naming the first argument that is missing, a
// folder without images, or a file that is not readable.
std::vector<std::filesystem::path> collect_image_files(const std::vector<std::string>& arguments);

// Reads one caption per line, skipping blank lines; throws naming the file when it cannot be
// read or contains no caption.
std::vector<std::string> read_texts_file(const std::filesystem::path& path);

// Throws dualclip::Error naming `option` when `texts` is empty.
void require_texts(const std::vector<std::string>& texts, const std::string& option);

}  // namespace dualclip::eval
