// The image-text similarity heatmap: one column per image (its thumbnail on top), one row per
// text, each cell coloured by and labelled with its value, in the layout of the CLIP
// zero-shot pictures (images across, texts down).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "dualclip/vision/image.h"

namespace dualclip::report {

struct HeatmapOptions {
  // A line under the title; empty: says that columns are images, rows are texts, and what
  // the outline marks.
  std::string subtitle;
  // A short label under each thumbnail (a file name, the true class); empty: "image 1", ...
  std::vector<std::string> image_labels;
  // The colour scale's name, written beside it.
  std::string value_name = "probability";
  int cell_size = 64;  // pixels per cell side
};

// Draws `probs` ([images, texts], e.g. logits_per_image.softmax(-1)) into `png`. `images`
// holds one RGB thumbnail per row of `probs`, or is empty for a heatmap without thumbnails.
// The colour scale spans [0, 1] when every value lies in it, else the values' range. The
// largest value of each column is outlined. Throws dualclip::Error when the sizes of `probs`,
// `texts`, `images` or `options.image_labels` disagree, or when `png` cannot be written.
void write_similarity_heatmap_png(const torch::Tensor& probs, const std::vector<std::string>& texts,
                                  const std::vector<vision::Image>& images, const std::string& title,
                                  const std::filesystem::path& png, const HeatmapOptions& options = {});

}  // namespace dualclip::report
