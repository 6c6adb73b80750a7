// Scores images against captions with a dual encoder directory, as Python users do with
// `model(**processor(text=..., images=...)).logits_per_image.softmax(dim=1)`.
//
//   score_images MODEL_DIR IMAGE [IMAGE ...] -- CAPTION [CAPTION ...]

#include <iostream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <dualclip/eval/processor.h>
#include <dualclip/io/model_dir.h>
#include <dualclip/models/dual_encoder.h>

int main(int argc, char** argv) {
  std::vector<std::string> images, captions;
  bool after_separator = false;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      after_separator = true;
      continue;
    }
    (after_separator ? captions : images).push_back(argv[i]);
  }
  if (argc < 2 || images.empty() || captions.empty()) {
    std::cerr << "usage: score_images MODEL_DIR IMAGE [IMAGE ...] -- CAPTION [CAPTION ...]\n";
    return 2;
  }

  // The model and its processor come from the same Hugging Face directory.
  const auto model_dir = dualclip::io::resolve_model_dir(argv[1]);
  auto model = dualclip::models::load_dual_encoder(model_dir.string());
  model->eval();
  dualclip::eval::Processor processor(model_dir, 128, model->text_model->max_position_embeddings());

  // Inputs, then one forward pass without gradients.
  torch::NoGradGuard no_grad;
  const auto text = processor.encode_texts(captions);
  const auto pixel_values = processor.load_images({images.begin(), images.end()});
  const auto output = model->forward(pixel_values, text.input_ids, text.attention_mask, text.token_type_ids);

  // Rows are images, columns are captions.
  const auto probs = output.logits_per_image.softmax(1);
  for (size_t i = 0; i < images.size(); ++i) {
    std::cout << images[i] << "\n";
    for (size_t j = 0; j < captions.size(); ++j) {
      std::cout << "  " << probs[i][j].item<float>() << "  " << captions[j] << "\n";
    }
  }
  return 0;
}
