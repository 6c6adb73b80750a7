// Image-caption datasets: one example per (image file, caption) pair, read from COCO 2017
// caption annotations or from a CSV/TSV/JSON Lines list, with images that are missing on
// disk counted and left out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dualclip::data {

struct CaptionExample {
  std::filesystem::path image_path;  // absolute, or relative to the current folder
  std::string caption;
};

struct CaptionDataset {
  std::string source;  // what was read, for messages ("COCO 2017 train at ...", a file path)
  std::vector<CaptionExample> examples;
  // Images listed but not found on disk, left out of `examples`.
  int64_t missing_images = 0;
  std::vector<std::filesystem::path> first_missing;  // up to 5, for the report
};

struct ListColumns {
  std::string image_column = "image_path";
  std::string caption_column = "caption";
};

// Reads `data_dir`/annotations/captions_<split>2017.json (split "train" or "val"): one example
// per caption annotation, in the file's order, as the Hugging Face COCO dataset script yields
// them, with the image at `data_dir`/<split>2017/<file_name>.
CaptionDataset read_coco_captions(const std::filesystem::path& data_dir, const std::string& split);

// Reads a list of (image path, caption) rows: .csv (comma), .tsv (tab), .jsonl, or .json (JSON
// Lines, or one array of objects). Relative image paths are taken from the list's folder.
CaptionDataset read_caption_list(const std::filesystem::path& list_file, const ListColumns& columns);

// Keeps the first `max_samples` examples (no change when max_samples < 0), as run_clip's
// --max_train_samples / --max_eval_samples select them.
void truncate_dataset(CaptionDataset& dataset, int64_t max_samples);

// Removes examples whose image file does not exist, counting them. With `strict`, the first
// missing image raises dualclip::Error naming it instead.
void drop_missing_images(CaptionDataset& dataset, bool strict);

// Parses CSV/TSV text into records of fields with RFC 4180 quoting: a quoted field may hold
// the delimiter and newlines, and "" inside quotes is one quote. Blank lines are skipped.
// Throws dualclip::Error naming `source` for a quote that is never closed.
std::vector<std::vector<std::string>> parse_delimited(const std::string& text, char delimiter,
                                                      const std::string& source);

}  // namespace dualclip::data
