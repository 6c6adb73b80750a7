#include "dualclip/cli/eval_options.h"

#include "dualclip/core/error.h"

namespace dualclip::cli {

void add_model_options(ArgParser& parser) {
  parser.add_option("model", "", "Dual encoder directory (from `dualclip create` or `train`, or a CLIP checkpoint) or a hub id in the local cache.", "DIR");
  parser.add_option("device", "cpu", "Device to run the model on: cpu, cuda or cuda:N.", "DEVICE");
  parser.add_flag("bf16", "Run the model in bfloat16 (embeddings are returned in float32).");
  parser.add_option("batch_size", "64", "Images or texts embedded per forward pass.", "N");
  parser.add_option("max_seq_length", "128", "Maximum caption length in tokens, special tokens included; longer captions are truncated.", "N");
}

eval::InferenceModel load_model_from_options(const ArgParser& parser) {
  eval::InferenceOptions options;
  options.device = parser.get("device");
  options.bf16 = parser.flag("bf16");
  options.max_seq_length = parser.get_int("max_seq_length");
  if (options.max_seq_length < 3) throw Error("--max_seq_length must be at least 3 (two special tokens and one word)");
  return eval::load_inference_model(parser.get("model"), options);
}

eval::EmbedOptions read_embed_options(const ArgParser& parser, const eval::InferenceModel& loaded) {
  const int64_t batch_size = parser.get_int("batch_size");
  if (batch_size < 1) throw Error("--batch_size must be at least 1, got " + std::to_string(batch_size));
  return eval::EmbedOptions{batch_size, loaded.device};
}

void add_image_text_inputs(ArgParser& parser) {
  parser.add_list("images", "Image files, or folders whose .jpg/.jpeg/.png/.gif/.webp files are all used.", "FILE");
  parser.add_list("texts", "Captions, one argument each.", "TEXT");
  parser.add_option("texts_file", "", "A file of captions, one per line, added after --texts.", "FILE");
}

std::vector<std::string> read_texts(const ArgParser& parser) {
  std::vector<std::string> texts = parser.get_list("texts");
  if (auto file = parser.get_optional("texts_file"); file && !file->empty()) {
    const std::vector<std::string> from_file = eval::read_texts_file(*file);
    texts.insert(texts.end(), from_file.begin(), from_file.end());
  }
  return texts;
}

}  // namespace dualclip::cli
