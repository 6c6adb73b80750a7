// The synthetic shapes dataset written to disk in the layout of COCO captions 2017:
//   train2017/000000000001.jpg ...   val2017/...   (JPEG, quality 90 by default)
//   annotations/captions_train2017.json, annotations/captions_val2017.json
//   val_labels.csv   (image_path,label: the main object's class, for zero-shot evaluation)
//   classes.txt      (the 24 class names, one a line)
// Every file is a function of the options alone: the same seed gives the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>

namespace dualclip::data {

struct ShapesDatasetOptions {
  std::filesystem::path output_dir;
  int64_t train_images = 4800;
  int64_t val_images = 480;
  int image_size = 64;  // pixels per side
  int captions_per_image = 5;
  // Share of images with a second, smaller object of another class.
  double second_object_fraction = 0.15;
  // Share of captions that name the main object alone, without its position or the background.
  double plain_caption_fraction = 0.25;
  uint64_t seed = 0;
  int jpeg_quality = 90;
  int num_threads = 0;  // 0: one per hardware thread; the output does not depend on it
  bool overwrite_output_dir = false;
};

struct ShapesDatasetSummary {
  int64_t images = 0;
  int64_t captions = 0;
  double seconds = 0;  // wall-clock time of the whole write
};

// Writes the dataset. Throws dualclip::Error for invalid options, for an output_dir that
// already contains a dataset (unless overwrite_output_dir, which first removes the dataset's own
// folders and files), and when a file cannot be written.
ShapesDatasetSummary write_shapes_dataset(const ShapesDatasetOptions& options);

}  // namespace dualclip::data
