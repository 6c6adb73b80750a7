#include "dualclip/eval/processor.h"

#include <algorithm>

#include <torch/torch.h>

namespace dualclip::eval {

namespace {

// The text tower's position table bounds the sequence length; RoBERTa reserves two
// positions (its position ids start after the padding index), as HF's run_clip does
// not check but the model requires.
int64_t effective_max_length(int64_t requested, int64_t max_position_embeddings, const text::Tokenizer& tokenizer) {
  int64_t limit = max_position_embeddings;
  if (tokenizer.type_name() == "roberta-bpe") limit -= 2;
  if (auto model_limit = tokenizer.model_max_length()) limit = std::min(limit, *model_limit);
  return std::min(requested, limit);
}

}  // namespace

Processor::Processor(const std::filesystem::path& model_dir, int64_t max_seq_length, int64_t max_position_embeddings)
    : tokenizer_(text::load_tokenizer(model_dir)),
      image_processor_(vision::read_image_processor_config(model_dir / "preprocessor_config.json")),
      max_seq_length_(effective_max_length(max_seq_length, max_position_embeddings, *tokenizer_)) {}

text::BatchEncoding Processor::encode_texts(const std::vector<std::string>& texts, text::Padding padding) const {
  return tokenizer_->batch_encode(texts, max_seq_length_, padding);
}

torch::Tensor Processor::load_images(const std::vector<std::filesystem::path>& paths,
                                     bool apply_exif_orientation) const {
  // Images decode independently, so a batch spreads over libtorch's intra-op threads; an
  // exception thrown for one file (missing, corrupt) is rethrown here with its message.
  std::vector<torch::Tensor> pixels(paths.size());
  at::parallel_for(0, static_cast<int64_t>(paths.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      pixels[i] = image_processor_.load(paths[i], /*fast=*/false, apply_exif_orientation);
    }
  });
  return torch::stack(pixels);
}

}  // namespace dualclip::eval
