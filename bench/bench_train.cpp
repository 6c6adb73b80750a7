// Training throughput of `dualclip train` (the real training loop, data loader included) on
// generated images: pairs per second and the share of step time spent waiting for data, for a
// small configuration and the full-size one (CLIP ViT-B/32 + RoBERTa-base, random weights),
// in float32 and bfloat16.
//
// usage: bench_train [--configs small,full] [--steps N] [--workers N] [--batch N] [--json FILE]
// The tokenizer files come from the reference folder ($DUALCLIP_GOLDEN_DIR/dual/clip-roberta).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/fs.h"
#include "dualclip/core/runtime.h"
#include "dualclip/data/jpeg_writer.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Size {
  std::string name;
  int64_t vision_hidden, vision_layers, vision_heads;
  int64_t text_hidden, text_layers, text_heads, vocab;
};

const Size kSmall{"small", 256, 4, 4, 256, 4, 4, 8192};
const Size kFull{"full", 768, 12, 12, 768, 12, 12, 50265};  // ViT-B/32 + RoBERTa-base

fs::path golden_dir() {
  const char* env = std::getenv("DUALCLIP_GOLDEN_DIR");
  return env && *env ? fs::path(env) : fs::path("../shared/golden");
}

// A dual encoder folder with random weights of `size`, the reference tokenizer and a 224-pixel
// CLIP image processor.
fs::path write_model(const fs::path& dir, const Size& size) {
  fs::path tokenizer_source = golden_dir() / "dual" / "clip-roberta";
  json config = dualclip::io::read_json(tokenizer_source / "config.json");
  auto& vision = config["vision_config"];
  vision["hidden_size"] = size.vision_hidden;
  vision["intermediate_size"] = 4 * size.vision_hidden;
  vision["num_hidden_layers"] = size.vision_layers;
  vision["num_attention_heads"] = size.vision_heads;
  vision["image_size"] = 224;
  vision["patch_size"] = 32;
  auto& text = config["text_config"];
  text["hidden_size"] = size.text_hidden;
  text["intermediate_size"] = 4 * size.text_hidden;
  text["num_hidden_layers"] = size.text_layers;
  text["num_attention_heads"] = size.text_heads;
  text["vocab_size"] = size.vocab;
  text["max_position_embeddings"] = 514;

  fs::create_directories(dir);
  dualclip::models::DualEncoder model(config);
  dualclip::models::save_dual_encoder(model, dir);
  for (const char* name : {"vocab.json", "merges.txt", "special_tokens_map.json"}) {
    fs::copy_file(tokenizer_source / name, dir / name, fs::copy_options::overwrite_existing);
  }
  json tokenizer_config = dualclip::io::read_json(tokenizer_source / "tokenizer_config.json");
  tokenizer_config["model_max_length"] = 512;
  dualclip::io::write_json(dir / "tokenizer_config.json", tokenizer_config);
  json processor = dualclip::io::read_json(tokenizer_source / "preprocessor_config.json");
  processor["size"] = {{"shortest_edge", 224}};
  processor["crop_size"] = {{"height", 224}, {"width", 224}};
  dualclip::io::write_json(dir / "preprocessor_config.json", processor);
  return dir;
}

// 640x480 JPEG images (COCO's typical size and format) with a caption each, as a CSV list.
// The pictures are smooth random colour fields with fine noise, so that decoding costs about
// what a photo costs.
fs::path write_images(const fs::path& dir, int count) {
  fs::create_directories(dir);
  std::ofstream list(dir / "pairs.csv");
  list << "image_path,caption\n";
  torch::manual_seed(0);
  for (int i = 0; i < count; ++i) {
    auto coarse = torch::rand({1, 3, 12, 16});
    auto field = torch::upsample_bilinear2d(coarse, {480, 640}, false) * 200 + torch::rand({1, 3, 480, 640}) * 55;
    auto pixels = field[0].permute({1, 2, 0}).clamp(0, 255).to(torch::kUInt8).contiguous();
    dualclip::vision::Image image;
    image.width = 640;
    image.height = 480;
    image.rgb.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
    std::string name = "img" + std::to_string(i) + ".jpg";
    dualclip::write_file_atomic(dir / name, dualclip::data::encode_jpeg(image, 90));
    list << name << ",a photo of a street with cars and people walking on a sunny day number " << i << "\n";
  }
  return dir / "pairs.csv";
}

json run_case(const fs::path& work, const Size& size, bool bf16, int64_t steps, int workers, int64_t batch,
              const fs::path& model_dir, const fs::path& list) {
  dualclip::train::TrainingArguments args;
  args.model_name_or_path = model_dir.string();
  args.train_file = list;
  args.output_dir = work / ("run-" + size.name + (bf16 ? "-bf16" : "-f32"));
  args.overwrite_output_dir = true;
  args.do_train = true;
  args.per_device_train_batch_size = batch;
  args.max_steps = steps;
  args.logging_steps = 1;
  args.save_strategy = dualclip::train::IntervalStrategy::No;
  args.dataloader_num_workers = workers;
  args.bf16 = bf16;
  args.disable_tqdm = true;
  args.use_cpu = true;
  fs::remove_all(args.output_dir);
  if (dualclip::train::run_training(args) != 0) throw std::runtime_error("training stopped early");

  // The first step includes one-time start-up costs, so it is left out of the averages.
  std::ifstream in(args.output_dir / "metrics.jsonl");
  std::string line;
  double seconds = 0.0, wait_seconds = 0.0;
  int64_t pairs = 0, rows = 0;
  while (std::getline(in, line)) {
    json row = json::parse(line);
    if (!row.contains("loss") || row["step"].get<int64_t>() == 1) continue;
    double step_seconds = static_cast<double>(batch) / row["pairs_per_second"].get<double>();
    seconds += step_seconds;
    wait_seconds += step_seconds * row["data_wait_share"].get<double>();
    pairs += batch;
    ++rows;
  }
  json result = {{"config", size.name},
                 {"precision", bf16 ? "bf16" : "float32"},
                 {"batch", batch},
                 {"workers", workers},
                 {"steps_measured", rows},
                 {"pairs_per_second", static_cast<double>(pairs) / seconds},
                 {"data_wait_share", wait_seconds / seconds}};
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string configs = "small,full";
  int64_t steps = 6;
  int workers = 4;
  int64_t batch = 16;
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--configs") configs = value;
    else if (key == "--steps") steps = std::stoll(value);
    else if (key == "--workers") workers = std::stoi(value);
    else if (key == "--batch") batch = std::stoll(value);
    else if (key == "--json") json_path = value;
    else {
      std::cerr << "unknown option " << key << "\n";
      return 2;
    }
  }

  dualclip::runtime::configure_threads();
  fs::path work = fs::temp_directory_path() / "dualclip-bench-train";
  fs::create_directories(work);
  fs::path list = write_images(work / "images", static_cast<int>(batch * 3));
  std::cout << "libtorch " << dualclip::runtime::torch_version() << ", BLAS " << dualclip::runtime::blas_description()
            << ", " << torch::get_num_threads() << " threads, " << workers << " loader workers\n";
  std::cout << "config  precision  batch  steps  pairs/s  data wait\n";

  json results = json::array();
  for (const Size* size : {&kSmall, &kFull}) {
    if (configs.find(size->name) == std::string::npos) continue;
    fs::path model_dir = write_model(work / ("model-" + size->name), *size);
    for (bool bf16 : {false, true}) {
      json r = run_case(work, *size, bf16, steps, workers, batch, model_dir, list);
      char text[160];
      std::snprintf(text, sizeof(text), "%-7s %-10s %5lld  %5lld  %7.2f  %8.1f%%\n", size->name.c_str(),
                    bf16 ? "bf16" : "float32", static_cast<long long>(batch),
                    static_cast<long long>(r["steps_measured"].get<int64_t>()), r["pairs_per_second"].get<double>(),
                    100.0 * r["data_wait_share"].get<double>());
      std::cout << text << std::flush;
      results.push_back(r);
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << results.dump(2) << "\n";
  fs::remove_all(work);
  return 0;
}
