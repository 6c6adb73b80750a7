// Tests of the synthetic shapes dataset: determinism, COCO schema, labels against captions,
// decodable JPEGs (decoded here with libjpeg) and class balance.
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/data/seeded_random.h"
#include "dualclip/data/shapes_dataset.h"
#include "dualclip/data/shapes_scene.h"
#include "expect_error.h"
#include "test_support.h"

namespace fs = std::filesystem;
using dualclip::testing::TempDir;

namespace {

dualclip::data::ShapesDatasetOptions small_options(const fs::path& dir) {
  dualclip::data::ShapesDatasetOptions options;
  options.output_dir = dir;
  options.train_images = 72;
  options.val_images = 48;
  options.image_size = 32;
  options.seed = 7;
  return options;
}

std::map<std::string, std::string> read_tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).string()] = dualclip::read_file(entry.path());
  }
  return files;
}

struct DecodedJpeg {
  int width = 0, height = 0, components = 0;
  std::vector<uint8_t> pixels;
  bool ok = false;
};

struct JpegErrors {
  jpeg_error_mgr base;
  std::jmp_buf jump;
};

void on_jpeg_error(j_common_ptr info) { std::longjmp(reinterpret_cast<JpegErrors*>(info->err)->jump, 1); }

DecodedJpeg decode_jpeg(const std::string& bytes) {
  DecodedJpeg decoded;
  jpeg_decompress_struct info;
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_jpeg_error;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    return decoded;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(&info, TRUE);
  jpeg_start_decompress(&info);
  decoded.width = static_cast<int>(info.output_width);
  decoded.height = static_cast<int>(info.output_height);
  decoded.components = info.output_components;
  decoded.pixels.resize(static_cast<size_t>(decoded.width) * decoded.height * decoded.components);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = &decoded.pixels[static_cast<size_t>(info.output_scanline) * decoded.width * decoded.components];
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  decoded.ok = true;
  return decoded;
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(dualclip::read_file(path)); }

int count_colour_words(const std::string& caption) {
  int count = 0;
  std::istringstream words(caption);
  std::string word;
  while (words >> word) {
    for (const auto& colour : dualclip::data::colour_names()) count += word == colour;
  }
  return count;
}

}  // namespace

TEST(ShapesDataset, SameSeedGivesSameBytes) {
  TempDir a, b, c;
  auto options = small_options(a.path());
  options.num_threads = 1;
  dualclip::data::write_shapes_dataset(options);
  options.output_dir = b.path();
  options.num_threads = 3;
  dualclip::data::write_shapes_dataset(options);

  const auto first = read_tree(a.path());
  const auto second = read_tree(b.path());
  ASSERT_EQ(first.size(), 72u + 48u + 4u);
  EXPECT_TRUE(first == second) << "datasets differ between 1 and 3 threads";

  // Another seed changes the pictures.
  options.output_dir = c.path();
  options.seed = 8;
  dualclip::data::write_shapes_dataset(options);
  const auto third = read_tree(c.path());
  EXPECT_NE(first.at("val2017/000000000073.jpg"), third.at("val2017/000000000073.jpg"));
}

TEST(ShapesDataset, CocoCaptionSchema) {
  TempDir dir;
  auto options = small_options(dir.path());
  const auto summary = dualclip::data::write_shapes_dataset(options);
  EXPECT_EQ(summary.images, 120);
  EXPECT_EQ(summary.captions, 600);

  std::set<int64_t> annotation_ids;
  int64_t expected_image_id = 1;
  for (const std::string split : {"train", "val"}) {
    const nlohmann::json document = read_json(dir.path() / "annotations" / ("captions_" + split + "2017.json"));
    for (const char* key : {"info", "licenses", "images", "annotations"}) ASSERT_TRUE(document.contains(key)) << key;
    ASSERT_TRUE(document["images"].is_array());
    ASSERT_TRUE(document["annotations"].is_array());

    std::map<int64_t, int> captions_per_image;
    for (const auto& image : document["images"]) {
      ASSERT_TRUE(image["id"].is_number_integer());
      EXPECT_EQ(image["id"].get<int64_t>(), expected_image_id++);
      EXPECT_EQ(image["width"], 32);
      EXPECT_EQ(image["height"], 32);
      const std::string file_name = image["file_name"];
      EXPECT_EQ(file_name.size(), 16u) << file_name;
      EXPECT_TRUE(fs::exists(dir.path() / (split + "2017") / file_name)) << file_name;
      captions_per_image[image["id"]] = 0;
    }
    for (const auto& annotation : document["annotations"]) {
      ASSERT_TRUE(annotation["id"].is_number_integer());
      ASSERT_TRUE(annotation["caption"].is_string());
      EXPECT_TRUE(annotation_ids.insert(annotation["id"].get<int64_t>()).second) << "repeated annotation id";
      ASSERT_EQ(captions_per_image.count(annotation["image_id"]), 1u) << annotation.dump();
      ++captions_per_image[annotation["image_id"]];
    }
    for (const auto& [image_id, count] : captions_per_image) EXPECT_EQ(count, 5) << "image " << image_id;
  }
}

TEST(ShapesDataset, LabelsMatchCaptionsAndClasses) {
  TempDir dir;
  dualclip::data::write_shapes_dataset(small_options(dir.path()));

  std::vector<std::string> classes;
  std::ifstream class_file(dir.path() / "classes.txt");
  for (std::string line; std::getline(class_file, line);) classes.push_back(line);
  ASSERT_EQ(classes.size(), 24u);
  EXPECT_EQ(classes.front(), "red circle");
  EXPECT_EQ(classes.back(), "orange star");

  // Captions of each val image, by file name.
  const nlohmann::json document = read_json(dir.path() / "annotations" / "captions_val2017.json");
  std::map<int64_t, std::string> file_of;
  for (const auto& image : document["images"]) file_of[image["id"]] = "val2017/" + image["file_name"].get<std::string>();
  std::map<std::string, std::vector<std::string>> captions_of;
  for (const auto& annotation : document["annotations"]) {
    captions_of[file_of.at(annotation["image_id"])].push_back(annotation["caption"]);
  }

  std::ifstream csv(dir.path() / "val_labels.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "image_path,label");
  std::map<std::string, int> class_counts;
  int rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    const size_t comma = line.find(',');
    ASSERT_NE(comma, std::string::npos) << line;
    const std::string path = line.substr(0, comma), label = line.substr(comma + 1);
    EXPECT_NE(std::find(classes.begin(), classes.end(), label), classes.end()) << label;
    EXPECT_TRUE(fs::exists(dir.path() / path)) << path;
    ++class_counts[label];
    for (std::string caption : captions_of.at(path)) {
      for (char& ch : caption) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      EXPECT_NE(caption.find(label), std::string::npos) << "caption '" << caption << "' lacks label '" << label << "'";
    }
  }
  EXPECT_EQ(rows, 48);

  // 48 val images over 24 classes: two each.
  EXPECT_EQ(class_counts.size(), 24u);
  for (const auto& [label, count] : class_counts) EXPECT_EQ(count, 2) << label;
}

TEST(ShapesDataset, ImagesDecodeAtRequestedSize) {
  TempDir dir;
  auto options = small_options(dir.path());
  options.image_size = 48;
  dualclip::data::write_shapes_dataset(options);

  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "train2017")) {
    const DecodedJpeg image = decode_jpeg(dualclip::read_file(entry.path()));
    ASSERT_TRUE(image.ok) << entry.path();
    EXPECT_EQ(image.width, 48);
    EXPECT_EQ(image.height, 48);
    EXPECT_EQ(image.components, 3);

    // Not a flat picture: some pixels stand far from the mean (the shape on its background).
    double mean = 0;
    for (uint8_t v : image.pixels) mean += v;
    mean /= image.pixels.size();
    int far = 0;
    for (uint8_t v : image.pixels) far += std::abs(v - mean) > 40;
    EXPECT_GT(far, 50) << entry.path();
    ++checked;
  }
  EXPECT_EQ(checked, 72);
}

TEST(ShapesDataset, TrainClassesBalanced) {
  TempDir dir;
  auto options = small_options(dir.path());
  options.train_images = 250;  // not a multiple of 24: counts differ by at most one
  dualclip::data::write_shapes_dataset(options);

  // Train labels are not written, so recover the class from the first caption's "<colour> <shape>".
  const nlohmann::json document = read_json(dir.path() / "annotations" / "captions_train2017.json");
  std::map<int64_t, std::string> label_of;
  for (const auto& annotation : document["annotations"]) {
    if (label_of.count(annotation["image_id"])) continue;
    std::string caption = annotation["caption"];
    for (char& ch : caption) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t best = std::string::npos;
    std::string label;
    for (int c = 0; c < dualclip::data::shapes_class_count(); ++c) {
      const std::string name = dualclip::data::shapes_class_name(c);
      const size_t at = caption.find(name);
      if (at < best) best = at, label = name;
    }
    label_of[annotation["image_id"]] = label;
  }
  std::map<std::string, int> counts;
  for (const auto& [id, label] : label_of) ++counts[label];
  ASSERT_EQ(counts.size(), 24u);
  for (const auto& [label, count] : counts) {
    EXPECT_GE(count, 10) << label;
    EXPECT_LE(count, 11) << label;
  }
}

TEST(ShapesDataset, SecondObjectFractionShowsInCaptions) {
  auto colour_word_share = [](double fraction) {
    int two_colours = 0, total = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const auto scene = dualclip::data::make_shapes_scene(seed, static_cast<int>(seed % 24), 32, 5, fraction, 0.25);
      for (const auto& caption : scene.captions) {
        const int colours = count_colour_words(caption);
        EXPECT_GE(colours, 1) << caption;
        two_colours += colours >= 2;
        ++total;
      }
    }
    return static_cast<double>(two_colours) / total;
  };
  EXPECT_EQ(colour_word_share(0.0), 0.0);
  // Almost every scene gets a second object, and about half its captions mention it.
  EXPECT_GT(colour_word_share(1.0), 0.3);
}

TEST(ShapesDataset, PlainCaptionFractionShowsInCaptions) {
  // A plain caption names neither the main object's position nor the background.
  auto has_place_or_background = [](std::string caption) {
    for (char& ch : caption) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const char* word : {"left", "right", "top", "bottom", "center", "middle", "background", "backdrop"}) {
      if (caption.find(word) != std::string::npos) return true;
    }
    return false;
  };
  auto plain_share = [&](double fraction) {
    int plain = 0, total = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const auto scene = dualclip::data::make_shapes_scene(seed, static_cast<int>(seed % 24), 32, 5, 0.0, fraction);
      for (const auto& caption : scene.captions) {
        plain += !has_place_or_background(caption);
        ++total;
      }
    }
    return static_cast<double>(plain) / total;
  };
  EXPECT_EQ(plain_share(0.0), 0.0);
  EXPECT_EQ(plain_share(1.0), 1.0);
  // Repeated captions of one image are redrawn, and plain wordings repeat more often.
  EXPECT_GT(plain_share(0.5), 0.4);
  EXPECT_LT(plain_share(0.5), 0.55);

  TempDir dir;
  auto options = small_options(dir.path());
  options.plain_caption_fraction = 1.5;
  const std::string message = dualclip::testing::error_of([&] { dualclip::data::write_shapes_dataset(options); });
  EXPECT_NE(message.find("invalid --plain_caption_fraction 1.5"), std::string::npos) << message;
}

TEST(ShapesDataset, SceneIsAFunctionOfItsSeed) {
  const auto a = dualclip::data::make_shapes_scene(42, 5, 40, 3, 0.5, 0.25);
  const auto b = dualclip::data::make_shapes_scene(42, 5, 40, 3, 0.5, 0.25);
  const auto c = dualclip::data::make_shapes_scene(43, 5, 40, 3, 0.5, 0.25);
  EXPECT_EQ(a.image.width, 40);
  EXPECT_EQ(a.image.rgb.size(), 40u * 40 * 3);
  EXPECT_EQ(a.image.rgb, b.image.rgb);
  EXPECT_EQ(a.captions, b.captions);
  EXPECT_NE(a.image.rgb, c.image.rgb);
  EXPECT_EQ(a.captions.size(), 3u);
}

TEST(ShapesDataset, SeededRandomDistributions) {
  dualclip::data::SeededRandom random(123);
  double sum = 0, sum_squares = 0;
  std::vector<int> buckets(7, 0);
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = random.normal();
    sum += x, sum_squares += x * x;
    const int k = random.below(7);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 7);
    ++buckets[k];
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum_squares / n, 1.0, 0.02);
  for (int count : buckets) EXPECT_NEAR(count, n / 7.0, 0.02 * n / 7);
}

TEST(ShapesDataset, RefusesExistingDatasetWithoutOverwrite) {
  TempDir dir;
  auto options = small_options(dir.path());
  dualclip::data::write_shapes_dataset(options);
  EXPECT_THROW(dualclip::data::write_shapes_dataset(options), dualclip::Error);

  options.overwrite_output_dir = true;
  options.train_images = 24;
  dualclip::data::write_shapes_dataset(options);
  EXPECT_FALSE(fs::exists(dir.path() / "train2017" / "000000000072.jpg")) << "stale image of the first run kept";

  options.image_size = 8;
  EXPECT_THROW(dualclip::data::write_shapes_dataset(options), dualclip::Error);
}

TEST(ShapesDataset, MakeDatasetCommand) {
  TempDir dir;
  const std::string out = (dir.path() / "shapes").string();
  std::string output;
  EXPECT_EQ(dualclip::testing::run_dualclip("make-dataset --output_dir " + out +
                                                " --train_images 48 --val_images 24 --image_size 32 --seed 3",
                                            &output),
            0)
      << output;
  EXPECT_NE(output.find("wrote 72 images and 360 captions"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(fs::path(out) / "val_labels.csv"));

  EXPECT_EQ(dualclip::testing::run_dualclip("make-dataset --output_dir " + out, &output), 2);
  EXPECT_NE(output.find("--overwrite_output_dir"), std::string::npos) << output;
  EXPECT_EQ(dualclip::testing::run_dualclip("make-dataset --kind mnist --output_dir " + out, &output), 2);
  EXPECT_NE(output.find("unknown --kind 'mnist'"), std::string::npos) << output;

  // The command reads --plain_caption_fraction: an invalid value stops it before anything is written.
  const std::string other = (dir.path() / "other").string();
  EXPECT_EQ(dualclip::testing::run_dualclip("make-dataset --output_dir " + other + " --plain_caption_fraction 2", &output), 2);
  EXPECT_NE(output.find("invalid --plain_caption_fraction 2"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(fs::path(other) / "train2017"));
}
