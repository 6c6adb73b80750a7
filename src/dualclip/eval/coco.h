// The COCO captions layout that retrieval and `embed --data_dir` read:
//   DATA_DIR/annotations/captions_{split}2017.json   ("images": id, file_name; "annotations": id, image_id, caption)
//   DATA_DIR/{split}2017/<file_name>
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dualclip/eval/retrieval.h"

namespace dualclip::eval {

struct CocoCaptions {
  std::filesystem::path annotation_file;
  std::vector<ImageEntry> images;      // image file and COCO image id, in the file's order
  std::vector<CaptionEntry> captions;  // caption text and its COCO image id, in the file's order
  std::vector<int64_t> caption_ids;    // COCO annotation id of each caption
};

// Reads the split's annotation file. With `max_images` > 0 only the first `max_images` images
// and their captions are kept. Throws dualclip::Error naming the file or the first image file
// that is missing, or a malformed entry.
CocoCaptions read_coco_captions(const std::filesystem::path& data_dir, const std::string& split, int64_t max_images = 0);

}  // namespace dualclip::eval
