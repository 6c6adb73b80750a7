#include "dualclip/eval/coco.h"

#include <set>

#include "dualclip/core/error.h"
#include "dualclip/io/model_dir.h"

namespace dualclip::eval {

namespace fs = std::filesystem;

CocoCaptions read_coco_captions(const fs::path& data_dir, const std::string& split, int64_t max_images) {
  CocoCaptions coco;
  coco.annotation_file = data_dir / "annotations" / ("captions_" + split + "2017.json");
  if (!fs::exists(coco.annotation_file)) {
    throw Error("COCO annotation file not found: " + coco.annotation_file.string() +
                "; --data_dir must contain annotations/captions_" + split + "2017.json and " + split + "2017/");
  }
  const nlohmann::json root = io::read_json(coco.annotation_file);
  const std::string where = coco.annotation_file.string();
  if (!root.contains("images") || !root["images"].is_array() || !root.contains("annotations") ||
      !root["annotations"].is_array()) {
    throw Error(where + " is not a COCO captions file: expected arrays \"images\" and \"annotations\"");
  }

  // Images, in the file's order, up to max_images.
  const fs::path image_folder = data_dir / (split + "2017");
  std::set<int64_t> kept_ids;
  for (const auto& image : root["images"]) {
    if (max_images > 0 && static_cast<int64_t>(coco.images.size()) >= max_images) break;
    if (!image.contains("id") || !image.contains("file_name")) {
      throw Error(where + ": an entry of \"images\" lacks \"id\" or \"file_name\": " + image.dump());
    }
    const fs::path path = image_folder / image["file_name"].get<std::string>();
    if (!fs::exists(path)) throw Error("image file not found: " + path.string() + " (listed in " + where + ")");
    coco.images.emplace_back(path, image["id"].get<int64_t>());
    kept_ids.insert(image["id"].get<int64_t>());
  }
  if (coco.images.empty()) throw Error(where + " lists no images");

  // Captions of the kept images.
  for (const auto& annotation : root["annotations"]) {
    if (!annotation.contains("image_id") || !annotation.contains("caption")) {
      throw Error(where + ": an entry of \"annotations\" lacks \"image_id\" or \"caption\": " + annotation.dump());
    }
    const int64_t image_id = annotation["image_id"].get<int64_t>();
    if (!kept_ids.count(image_id)) {
      if (max_images <= 0) {
        throw Error(where + ": caption " + annotation.dump() + " refers to image id " + std::to_string(image_id) +
                    ", which \"images\" does not list");
      }
      continue;
    }
    coco.captions.emplace_back(annotation["caption"].get<std::string>(), image_id);
    coco.caption_ids.push_back(annotation.value("id", static_cast<int64_t>(coco.caption_ids.size())));
  }
  if (coco.captions.empty()) throw Error(where + " has no captions for the selected images");
  return coco;
}

}  // namespace dualclip::eval
