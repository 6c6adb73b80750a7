// A dual encoder's processor, as Hugging Face's VisionTextDualEncoderProcessor: the text
// tower's tokenizer and the vision tower's image processor, both read from the model
// directory, turning captions and image files into model inputs.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "dualclip/text/tokenizer.h"
#include "dualclip/vision/processor.h"

namespace dualclip::eval {

class Processor {
 public:
  // Reads the tokenizer files and preprocessor_config.json of `model_dir`.
  // `max_position_embeddings` caps max_seq_length at what the text tower can take.
  Processor(const std::filesystem::path& model_dir, int64_t max_seq_length, int64_t max_position_embeddings);

  text::BatchEncoding encode_texts(const std::vector<std::string>& texts,
                                   text::Padding padding = text::Padding::Longest) const;
  // Decodes and preprocesses image files with the exact path; [N, 3, H, W] float32.
  torch::Tensor load_images(const std::vector<std::filesystem::path>& paths, bool apply_exif_orientation = true) const;

  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const vision::ImageProcessor& image_processor() const { return image_processor_; }
  int64_t max_seq_length() const { return max_seq_length_; }

 private:
  std::unique_ptr<text::Tokenizer> tokenizer_;
  vision::ImageProcessor image_processor_;
  int64_t max_seq_length_;
};

}  // namespace dualclip::eval
