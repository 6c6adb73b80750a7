#include "dualclip/data/shapes_dataset.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/data/jpeg_writer.h"
#include "dualclip/data/seeded_random.h"
#include "dualclip/data/shapes_scene.h"

namespace dualclip::data {

namespace fs = std::filesystem;

namespace {

struct Split {
  std::string name;     // "train" or "val"
  uint64_t stream = 0;  // seed stream, so the two splits never share scenes
  int64_t count = 0;
  int64_t first_image_id = 1;
};

struct SplitRecord {
  std::vector<int> class_ids;
  std::vector<std::vector<std::string>> captions;
};

// COCO's 12-digit zero-padded file name for an image id.
std::string coco_file_name(int64_t image_id) {
  char name[32];
  std::snprintf(name, sizeof name, "%012lld.jpg", static_cast<long long>(image_id));
  return name;
}

void check_options(const ShapesDatasetOptions& options) {
  if (options.output_dir.empty()) throw Error("make-dataset: --output_dir is required");
  if (options.train_images < 0 || options.val_images < 0 || options.train_images + options.val_images == 0) {
    throw Error("make-dataset: --train_images and --val_images must be >= 0 and not both 0");
  }
  if (options.image_size < 16 || options.image_size > 1024) {
    throw Error("make-dataset: --image_size " + std::to_string(options.image_size) +
                " is out of range; use 16 to 1024 pixels");
  }
  if (options.captions_per_image < 1) throw Error("make-dataset: --captions_per_image must be at least 1");
  if (!(options.second_object_fraction >= 0 && options.second_object_fraction <= 1)) {
    throw Error("make-dataset: invalid --second_object_fraction " + std::to_string(options.second_object_fraction) + "; expected a value in [0, 1]");
  }
  if (!(options.plain_caption_fraction >= 0 && options.plain_caption_fraction <= 1)) {
    throw Error("make-dataset: invalid --plain_caption_fraction " + std::to_string(options.plain_caption_fraction) + "; expected a value in [0, 1]");
  }
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) throw Error("make-dataset: invalid --jpeg_quality " + std::to_string(options.jpeg_quality) + "; expected 1 to 100");
}

// Refuses to mix two datasets in one folder; with overwrite, removes only what this writer makes.
void prepare_output_dir(const ShapesDatasetOptions& options) {
  const fs::path& dir = options.output_dir;
  const std::vector<std::string> owned = {"train2017", "val2017", "annotations", "val_labels.csv", "classes.txt"};
  bool has_dataset = false;
  for (const std::string& name : owned) has_dataset = has_dataset || fs::exists(dir / name);
  if (has_dataset && !options.overwrite_output_dir) {
    throw Error("make-dataset: " + dir.string() +
                " already contains a dataset (train2017/, annotations/, ...); choose another --output_dir or pass "
                "--overwrite_output_dir");
  }
  for (const std::string& name : owned) fs::remove_all(dir / name);
  fs::create_directories(dir / "train2017");
  fs::create_directories(dir / "val2017");
  fs::create_directories(dir / "annotations");
}

// An exactly balanced class list (counts differ by at most one), in a seeded random order.
std::vector<int> balanced_classes(uint64_t seed, const Split& split) {
  std::vector<int> classes(static_cast<size_t>(split.count));
  for (size_t i = 0; i < classes.size(); ++i) classes[i] = static_cast<int>(i % shapes_class_count());
  SeededRandom random(mix_seed(seed, split.stream, 0xC1A55));
  random.shuffle(classes);
  return classes;
}

// Draws, encodes and writes every image of a split on `num_threads` threads. Each image draws
// from its own seed, so the bytes do not depend on which thread made them.
SplitRecord write_split_images(const ShapesDatasetOptions& options, const Split& split, int num_threads) {
  SplitRecord record;
  record.class_ids = balanced_classes(options.seed, split);
  record.captions.resize(static_cast<size_t>(split.count));
  const fs::path folder = options.output_dir / (split.name + "2017");

  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    try {
      for (int64_t i = next++; i < split.count; i = next++) {
        ShapesScene scene = make_shapes_scene(mix_seed(options.seed, split.stream, static_cast<uint64_t>(i)),
                                              record.class_ids[i], options.image_size, options.captions_per_image,
                                              options.second_object_fraction, options.plain_caption_fraction);
        write_file_atomic(folder / coco_file_name(split.first_image_id + i),
                          encode_jpeg(scene.image, options.jpeg_quality));
        record.captions[i] = std::move(scene.captions);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = split.count;  // stop the other workers early
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < num_threads; ++t) threads.emplace_back(worker);
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
  return record;
}

// captions_<split>2017.json in COCO's schema; annotation ids continue from `next_annotation_id`.
void write_captions_json(const ShapesDatasetOptions& options, const Split& split, const SplitRecord& record,
                         int64_t& next_annotation_id) {
  nlohmann::ordered_json info = {
      {"description", "dualclip synthetic shapes: coloured shapes with captions"},
      {"url", ""},
      {"version", "1.0"},
      {"contributor", "dualclip make-dataset"},
      {"generator", {{"kind", "shapes"},
                     {"seed", options.seed},
                     {"image_size", options.image_size},
                     {"captions_per_image", options.captions_per_image},
                     {"second_object_fraction", options.second_object_fraction},
                     {"plain_caption_fraction", options.plain_caption_fraction}}},
  };
  nlohmann::ordered_json licenses = nlohmann::ordered_json::array(
      {{{"id", 1}, {"name", "Generated data, free to use"}, {"url", ""}}});

  nlohmann::ordered_json images = nlohmann::ordered_json::array();
  nlohmann::ordered_json annotations = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < split.count; ++i) {
    const int64_t image_id = split.first_image_id + i;
    images.push_back({{"license", 1},
                      {"file_name", coco_file_name(image_id)},
                      {"height", options.image_size},
                      {"width", options.image_size},
                      {"id", image_id}});
    for (const std::string& caption : record.captions[i]) {
      annotations.push_back({{"image_id", image_id}, {"id", next_annotation_id++}, {"caption", caption}});
    }
  }
  nlohmann::ordered_json document = {
      {"info", info}, {"licenses", licenses}, {"images", images}, {"annotations", annotations}};
  write_file_atomic(options.output_dir / "annotations" / ("captions_" + split.name + "2017.json"), document.dump());
}

void write_label_files(const ShapesDatasetOptions& options, const Split& val, const SplitRecord& record) {
  std::string classes;
  for (int c = 0; c < shapes_class_count(); ++c) classes += shapes_class_name(c) + "\n";
  write_file_atomic(options.output_dir / "classes.txt", classes);

  std::string csv = "image_path,label\n";
  for (int64_t i = 0; i < val.count; ++i) {
    csv += "val2017/" + coco_file_name(val.first_image_id + i) + "," + shapes_class_name(record.class_ids[i]) + "\n";
  }
  write_file_atomic(options.output_dir / "val_labels.csv", csv);
}

}  // namespace

ShapesDatasetSummary write_shapes_dataset(const ShapesDatasetOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  check_options(options);
  prepare_output_dir(options);
  const int num_threads =
      options.num_threads > 0 ? options.num_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Image ids run on from train into val, as COCO's ids are unique across its splits.
  const Split train{"train", 1, options.train_images, 1};
  const Split val{"val", 2, options.val_images, 1 + options.train_images};
  int64_t next_annotation_id = 1;
  ShapesDatasetSummary summary;
  for (const Split& split : {train, val}) {
    const SplitRecord record = write_split_images(options, split, num_threads);
    write_captions_json(options, split, record, next_annotation_id);
    if (split.name == "val") write_label_files(options, split, record);
    summary.images += split.count;
  }
  summary.captions = next_annotation_id - 1;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace dualclip::data
