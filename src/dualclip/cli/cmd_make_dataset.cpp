#include <algorithm>
#include <cstdio>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/data/shapes_dataset.h"

namespace dualclip::cli {

int run_make_dataset(const std::vector<std::string>& args) {
  ArgParser parser("make-dataset",
                   "Write a synthetic image-caption dataset in COCO captions layout (train2017/, val2017/, "
                   "annotations/), with val_labels.csv and classes.txt for zero-shot evaluation.");
  parser.add_option("kind", "shapes", "Dataset to generate; 'shapes' (coloured shapes, 24 classes) is the only kind.", "KIND");
  parser.add_option("output_dir", "", "Folder to write the dataset into (created if missing).", "DIR");
  parser.add_option("train_images", "4800", "Number of training images.", "N");
  parser.add_option("val_images", "480", "Number of validation images (labelled in val_labels.csv).", "N");
  parser.add_option("image_size", "64", "Side of the square images in pixels.", "PX");
  parser.add_option("captions_per_image", "5", "Captions written for each image, as in COCO.", "K");
  parser.add_option("second_object_fraction", "0.15",
                    "Share of images that also hold a smaller object of another class (harder to learn).", "F");
  parser.add_option("plain_caption_fraction", "0.25",
                    "Share of captions that name the main object alone, without its position or the background.", "F");
  parser.add_option("seed", "0", "Random seed; the same seed and options give byte-identical files.", "S");
  parser.add_option("jpeg_quality", "90", "JPEG quality from 1 to 100.", "Q");
  parser.add_option("num_threads", "0", "Threads drawing and encoding images; 0 uses every hardware thread.", "N");
  parser.add_flag("overwrite_output_dir", "Replace a dataset already in --output_dir.");
  if (!parser.parse(args)) return 0;

  if (parser.get("kind") != "shapes") {
    throw Error("unknown --kind '" + parser.get("kind") + "'; the supported kind is 'shapes'");
  }
  if (!parser.given("output_dir")) throw Error("missing --output_dir; see 'dualclip make-dataset --help'");
  if (parser.get_int("seed") < 0) throw Error("--seed must be a non-negative integer");

  data::ShapesDatasetOptions options;
  options.output_dir = parser.get("output_dir");
  options.train_images = parser.get_int("train_images");
  options.val_images = parser.get_int("val_images");
  options.image_size = static_cast<int>(parser.get_int("image_size"));
  options.captions_per_image = static_cast<int>(parser.get_int("captions_per_image"));
  options.second_object_fraction = parser.get_double("second_object_fraction");
  options.plain_caption_fraction = parser.get_double("plain_caption_fraction");
  options.seed = static_cast<uint64_t>(parser.get_int("seed"));
  options.jpeg_quality = static_cast<int>(parser.get_int("jpeg_quality"));
  options.num_threads = static_cast<int>(parser.get_int("num_threads"));
  options.overwrite_output_dir = parser.flag("overwrite_output_dir");

  const data::ShapesDatasetSummary summary = data::write_shapes_dataset(options);
  char line[256];
  std::snprintf(line, sizeof line, "wrote %lld images and %lld captions to %s in %.2f s (%.0f images/s)",
                static_cast<long long>(summary.images), static_cast<long long>(summary.captions),
                options.output_dir.string().c_str(), summary.seconds, summary.images / std::max(summary.seconds, 1e-9));
  log::info(line);
  return 0;
}

}  // namespace dualclip::cli
