#include "dualclip/cli/commands.h"

namespace dualclip::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "Train a dual encoder on image-caption pairs as run_clip.py with Hugging Face's Trainer does.", run_train},
      {"tokenize", "Print the token ids, tokens and attention mask a model's tokenizer gives for captions.", run_tokenize},
      {"create", "Join a pretrained vision tower and text tower into a new dual encoder directory.", run_create},
      {"info", "Print a dual encoder's towers, sizes, parameter counts, projection size and logit scale.", run_info},
      {"version", "Print dualclip's version, the libtorch version, device support and the BLAS in use.", run_version},
      {"similarity", "Score images against texts: logits_per_image, probabilities, optional heatmap PNG.", run_similarity},
      {"zero-shot", "Classify labelled images by class-name prompts; top-1/top-5 accuracy and confusions.", run_zero_shot},
      {"retrieval", "Image-text Recall@1/5/10 on a COCO captions split, with cached embeddings.", run_retrieval},
      {"embed", "Write normalised image/text embeddings with their ids to a safetensors file.", run_embed},
      {"make-dataset", "Write a synthetic image-caption dataset (coloured shapes) in COCO captions layout.", run_make_dataset},
      {"preprocess", "Turn image files into pixel_values with a model's image processor and save them as safetensors.", run_preprocess},
      {"plot", "Draw a training run's loss curve from its metrics.jsonl into a PNG.", run_plot},
      {"demo", "Build, train and evaluate a small dual encoder on generated data, with heatmaps and a report.", run_demo},
  };
  return table;
}

}  // namespace dualclip::cli
