// Training-step benchmark: how close `dualclip train` gets to this machine's limit.
//
// It first measures the matrix-multiply peak: 4096x4096 products through libtorch, float32 and
// bfloat16, with the threads training uses. Then it trains each case for a few steps with the
// real trainer and data loader. Per case it prints pairs/s, seconds per step split into data
// wait / forward / backward / communication / optimizer, model FLOPs per pair, MFU (achieved
// FLOP/s over the measured peak of the same precision) and peak resident memory. Each case
// runs in its own process, so that its peak memory is its own.
//
// usage: bench_step [--cases a,b,...] [--precisions float32,bf16] [--steps N] [--json FILE]
//   cases: full-b8 full-b16 full-2x8 full-b8-pad128 demo-b128 demo-2x64 (default: all).
//   NxB is N processes of batch B each, with the loss over the global batch.
// The full-size model is CLIP ViT-B/32 + RoBERTa-base with random weights. Its tokenizer files
// come from $DUALCLIP_GOLDEN_DIR/dual/clip-roberta (default ../shared/golden). The demo cases
// use the model and data that `dualclip demo` builds.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/cli/commands.h"
#include "dualclip/core/fs.h"
#include "dualclip/core/runtime.h"
#include "dualclip/data/jpeg_writer.h"
#include "dualclip/data/shapes_dataset.h"
#include "dualclip/demo/tiny_towers.h"
#include "dualclip/dist/distributed.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Case {
  std::string name;
  std::string model;  // "full" or "demo"
  int64_t batch;      // per process
  int nproc;
  bool pad_to_128;    // run_clip's fixed padding instead of padding to the longest caption
};

const std::vector<Case> kCases = {
    {"full-b8", "full", 8, 1, false},       {"full-b16", "full", 16, 1, false},
    {"full-2x8", "full", 8, 2, false},      {"full-b8-pad128", "full", 8, 1, true},
    {"demo-b128", "demo", 128, 1, false},   {"demo-2x64", "demo", 64, 2, false},
};

// The reference tokenizer has a 661-token vocabulary, so it splits a caption into about twice
// as many pieces as roberta-base would. The full-size cases truncate captions at 20 tokens
// instead, an estimate of what padding a batch of 8 COCO captions (mostly 8 to 15 words) to
// its longest gives with roberta-base.
constexpr int64_t kCocoTokens = 20;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// Peak: the best of several n x n products, as FLOP/s (2 n^3 per product).

double matmul_peak(torch::ScalarType dtype, int64_t n, double min_seconds) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}).to(dtype);
  auto b = torch::randn({n, n}).to(dtype);
  auto c = torch::mm(a, b);  // warm-up: thread pools, packing buffers
  double best = 0.0, total = 0.0;
  int runs = 0;
  while (runs < 2 || (total < min_seconds && runs < 10)) {
    auto start = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    double seconds = seconds_since(start);
    best = std::max(best, 2.0 * static_cast<double>(n * n * n) / seconds);
    total += seconds;
    ++runs;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Model FLOPs per image-text pair for one training step, counted from the configuration:
// forward matrix products (2 FLOPs per multiply-add), backward taken as twice the forward.
//   transformer layer over n tokens, width d, MLP width f: 2n(4d^2 + 2df) + 4n^2 d
//   patch embedding: 2 * patches * (3 p^2) * d;  text pooler (BERT/RoBERTa): 2 d^2
//   projections: 2 d_vision e + 2 d_text e;  logits: 2 e * global batch
// Layer norms, activations, softmax and embedding lookups are left out (a few percent).

double layer_flops(double n, double d, double f) { return 2 * n * (4 * d * d + 2 * d * f) + 4 * n * n * d; }

double training_flops_per_pair(const json& config, double text_tokens, double global_batch) {
  const json& v = config["vision_config"];
  const json& t = config["text_config"];
  const double e = config.value("projection_dim", 512);
  const double patch = v["patch_size"].get<double>();
  const double patches = std::pow(v["image_size"].get<double>() / patch, 2);
  const double dv = v["hidden_size"], fv = v["intermediate_size"], lv = v["num_hidden_layers"];
  const double dt = t["hidden_size"], ft = t["intermediate_size"], lt = t["num_hidden_layers"];

  double forward = 2 * patches * 3 * patch * patch * dv + lv * layer_flops(patches + 1, dv, fv);
  forward += lt * layer_flops(text_tokens, dt, ft) + 2 * dt * dt;
  forward += 2 * dv * e + 2 * dt * e + 2 * e * global_batch;
  return 3 * forward;
}

// The expected padded caption length of a batch of `batch` captions drawn at random from
// `captions` (the longest one, truncated to max_length), estimated over 2000 batches.
double expected_padded_length(const std::vector<std::string>& captions, const fs::path& model_dir, int64_t batch,
                              int64_t max_length) {
  auto tokenizer = dualclip::text::load_tokenizer(model_dir);
  std::vector<int64_t> lengths;
  for (const auto& caption : captions) {
    lengths.push_back(std::min<int64_t>(max_length, static_cast<int64_t>(tokenizer->encode(caption).size())));
  }
  std::mt19937_64 random(0);
  std::uniform_int_distribution<size_t> pick(0, lengths.size() - 1);
  double sum = 0;
  const int batches = 2000;
  for (int i = 0; i < batches; ++i) {
    int64_t longest = 0;
    for (int64_t j = 0; j < batch; ++j) longest = std::max(longest, lengths[pick(random)]);
    sum += static_cast<double>(longest);
  }
  return sum / batches;
}

// ---------------------------------------------------------------------------------------------
// Inputs. The full-size model: random weights, the reference RoBERTa tokenizer, 224-pixel
// CLIP preprocessing; 640x480 JPEGs (COCO's usual size) with captions of COCO length.

fs::path golden_dir() {
  const char* env = std::getenv("DUALCLIP_GOLDEN_DIR");
  return env && *env ? fs::path(env) : fs::path("../shared/golden");
}

void write_full_model(const fs::path& dir) {
  fs::path tokenizer_source = golden_dir() / "dual" / "clip-roberta";
  if (!fs::exists(tokenizer_source / "vocab.json")) {
    throw std::runtime_error("no tokenizer files in " + tokenizer_source.string() +
                             "; set DUALCLIP_GOLDEN_DIR to the reference data folder");
  }
  json config = dualclip::io::read_json(tokenizer_source / "config.json");
  config["projection_dim"] = 512;
  config["vision_config"].update({{"hidden_size", 768}, {"intermediate_size", 3072}, {"num_hidden_layers", 12},
                                  {"num_attention_heads", 12}, {"image_size", 224}, {"patch_size", 32}});
  config["text_config"].update({{"hidden_size", 768}, {"intermediate_size", 3072}, {"num_hidden_layers", 12},
                                {"num_attention_heads", 12}, {"vocab_size", 50265},
                                {"max_position_embeddings", 514}});
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
}

// A caption of 8 to 15 words built from COCO-like phrases.
std::string coco_like_caption(std::mt19937_64& random) {
  static const std::vector<std::string> subjects = {"A man", "A woman", "Two dogs", "A group of people", "A small cat",
                                                    "A red bus", "A young boy", "An old truck"};
  static const std::vector<std::string> verbs = {"is standing", "is sitting", "are walking", "is parked",
                                                 "is playing", "is riding a bike"};
  static const std::vector<std::string> places = {"next to a building", "on a busy city street", "in a green field",
                                                  "near the water", "inside a kitchen", "on top of a wooden table"};
  static const std::vector<std::string> extras = {"", " with a frisbee", " on a sunny day",
                                                  " while holding an umbrella in the rain"};
  auto pick = [&](const std::vector<std::string>& words) { return words[random() % words.size()]; };
  return pick(subjects) + " " + pick(verbs) + " " + pick(places) + pick(extras) + ".";
}

// `count` images with a caption each, listed in pairs.csv; returns the captions.
std::vector<std::string> write_photo_list(const fs::path& dir, int count) {
  fs::create_directories(dir);
  std::ofstream list(dir / "pairs.csv");
  list << "image_path,caption\n";
  torch::manual_seed(0);
  std::mt19937_64 random(0);
  std::vector<std::string> captions;
  for (int i = 0; i < count; ++i) {
    // Smooth colour fields with fine noise, so that decoding costs about what a photo costs.
    auto coarse = torch::rand({1, 3, 12, 16});
    auto field = torch::upsample_bilinear2d(coarse, {480, 640}, false) * 200 + torch::rand({1, 3, 480, 640}) * 55;
    auto pixels = field[0].permute({1, 2, 0}).clamp(0, 255).to(torch::kUInt8).contiguous();
    dualclip::vision::Image image;
    image.width = 640;
    image.height = 480;
    image.rgb.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
    std::string name = "img" + std::to_string(i) + ".jpg";
    dualclip::write_file_atomic(dir / name, dualclip::data::encode_jpeg(image, 90));
    captions.push_back(coco_like_caption(random));
    list << name << ",\"" << captions.back() << "\"\n";
  }
  return captions;
}

// The demo's dataset and model, as `dualclip demo` builds them with its default sizes.
std::vector<std::string> write_demo_inputs(const fs::path& work) {
  namespace demo = dualclip::demo;
  const demo::TinyTowerSizes sizes;
  dualclip::data::ShapesDatasetOptions dataset;
  dataset.output_dir = work / "demo-data";
  dataset.train_images = 1024;
  dataset.val_images = 24;
  dataset.image_size = static_cast<int>(sizes.image_size);
  dataset.second_object_fraction = 0.0;
  dataset.overwrite_output_dir = true;
  dualclip::data::write_shapes_dataset(dataset);

  auto captions = demo::read_coco_caption_texts(dataset.output_dir / "annotations" / "captions_train2017.json");
  auto vocab = demo::build_caption_vocab(captions);
  dualclip::models::save_random_tower(demo::vision_tower_config(sizes), work / "demo-vision", 0);
  dualclip::io::write_json(work / "demo-vision" / "preprocessor_config.json",
                           demo::clip_preprocessor_config(sizes.image_size));
  dualclip::models::save_random_tower(demo::text_tower_config(sizes, static_cast<int64_t>(vocab.size())),
                                      work / "demo-text", 1);
  demo::write_bert_tokenizer_files(work / "demo-text", vocab, sizes.max_position_embeddings);
  dualclip::models::CreateOptions create;
  create.projection_dim = 64;
  dualclip::models::create_dual_encoder((work / "demo-vision").string(), (work / "demo-text").string(),
                                        work / "demo-model", create);
  return captions;
}

// ---------------------------------------------------------------------------------------------
// One case, in a child process: a short training run, averaged over its steps after the first
// two (start-up and allocator warm-up), written as JSON to `result_path`.

std::vector<std::string> training_command(const Case& c, const std::string& precision, int64_t steps,
                                          const fs::path& work, const fs::path& output_dir) {
  std::vector<std::string> argv = {"train", "--output_dir", output_dir.string(), "--overwrite_output_dir", "--do_train",
                                   "--per_device_train_batch_size", std::to_string(c.batch),
                                   "--max_steps", std::to_string(steps), "--logging_steps", "1",
                                   "--save_strategy", "no", "--disable_tqdm", "--use_cpu"};
  if (c.model == "full") {
    argv.insert(argv.end(), {"--model_name_or_path", (work / "full-model").string(), "--train_file",
                             (work / "photos" / "pairs.csv").string()});
    if (!c.pad_to_128) argv.insert(argv.end(), {"--max_seq_length", std::to_string(kCocoTokens)});
  } else {
    argv.insert(argv.end(), {"--model_name_or_path", (work / "demo-model").string(), "--data_dir",
                             (work / "demo-data").string(), "--max_seq_length", "32", "--dropout", "0",
                             "--dataloader_num_workers", "1"});
  }
  if (c.pad_to_128) argv.insert(argv.end(), {"--pad_to_max_length", "--max_seq_length", "128"});
  if (precision == "bf16") argv.push_back("--bf16");
  if (c.nproc > 1) argv.insert(argv.end(), {"--nproc_per_node", std::to_string(c.nproc)});
  return argv;
}

int run_case(const Case& c, const std::string& precision, int64_t steps, const fs::path& work,
             const fs::path& result_path) {
  const fs::path output_dir = work / ("run-" + c.name + "-" + precision);
  fs::remove_all(output_dir);
  std::vector<std::string> argv = training_command(c, precision, steps, work, output_dir);
  const int status = c.nproc > 1 ? dualclip::dist::launch_local_workers(c.nproc, argv, 0)
                                 : dualclip::cli::run_train(std::vector<std::string>(argv.begin() + 1, argv.end()));
  if (status != 0) return status;

  json sums = json::object();
  const std::vector<std::string> keys = {"step_seconds", "data_wait_seconds", "forward_seconds", "backward_seconds",
                                         "communication_seconds", "optimizer_seconds"};
  int64_t rows = 0;
  std::ifstream in(output_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    json row = json::parse(line);
    if (!row.contains("loss") || row["step"].get<int64_t>() <= 2) continue;
    for (const auto& key : keys) sums[key] = sums.value(key, 0.0) + row[key].get<double>();
    ++rows;
  }
  if (rows == 0) throw std::runtime_error("no steps after the first two; pass --steps 4 or more");

  // Peak resident memory of the largest process of this case (KiB on Linux).
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  json result = {{"steps_measured", rows},
                 {"peak_rss_bytes", 1024.0 * static_cast<double>(std::max(self.ru_maxrss, children.ru_maxrss))}};
  for (const auto& key : keys) result[key] = sums[key].get<double>() / static_cast<double>(rows);
  std::ofstream(result_path) << result.dump(2) << "\n";
  return 0;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

void print_row(const json& r) {
  char text[320];
  std::snprintf(text, sizeof text,
                "%-15s %-7s %6.2f %6.2f  %5.2f %6.2f %6.2f %5.2f %5.2f  %9.3f %5.1f%%  %5.2f\n",
                r["case"].get<std::string>().c_str(), r["precision"].get<std::string>().c_str(),
                r["pairs_per_second"].get<double>(), r["step_seconds"].get<double>(),
                r["data_wait_seconds"].get<double>(), r["forward_seconds"].get<double>(),
                r["backward_seconds"].get<double>(), r["communication_seconds"].get<double>(),
                r["optimizer_seconds"].get<double>(), r["gflops_per_pair"].get<double>(), 100.0 * r["mfu"].get<double>(),
                r["peak_rss_bytes"].get<double>() / 1e9);
  std::cout << text << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  // The launcher of the two-process case starts this program again as "bench_step train ...".
  if (argc > 1 && std::string(argv[1]) == "train") {
    return dualclip::cli::run_train(std::vector<std::string>(argv + 2, argv + argc));
  }

  std::string cases_option, precisions_option = "float32,bf16", json_path, child_case, child_precision;
  int64_t steps = 6;
  fs::path work = fs::temp_directory_path() / "dualclip-bench-step", result_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--cases") cases_option = value;
    else if (key == "--precisions") precisions_option = value;
    else if (key == "--steps") steps = std::stoll(value);
    else if (key == "--json") json_path = value;
    else if (key == "--work") work = value;
    else if (key == "--run_case") child_case = value;
    else if (key == "--precision") child_precision = value;
    else if (key == "--result") result_path = value;
    else {
      std::cerr << "invalid option " << key << "; see the usage at the top of bench/bench_step.cpp\n";
      return 2;
    }
  }
  std::vector<Case> cases;
  for (const auto& name : cases_option.empty() ? std::vector<std::string>{} : split(cases_option)) {
    auto it = std::find_if(kCases.begin(), kCases.end(), [&](const Case& c) { return c.name == name; });
    if (it == kCases.end()) {
      std::cerr << "invalid case '" << name << "'; the cases are full-b8 full-b16 full-2x8 full-b8-pad128 demo-b128 demo-2x64\n";
      return 2;
    }
    cases.push_back(*it);
  }
  if (cases_option.empty()) cases = kCases;

  dualclip::runtime::configure_threads();
  if (!child_case.empty()) {
    auto it = std::find_if(kCases.begin(), kCases.end(), [&](const Case& k) { return k.name == child_case; });
    if (it == kCases.end()) {
      std::cerr << "invalid --run_case '" << child_case << "'\n";
      return 2;
    }
    return run_case(*it, child_precision, steps, work, result_path);
  }

  // The peaks, with the threads training uses.
  std::cout << "libtorch " << dualclip::runtime::torch_version() << ", BLAS " << dualclip::runtime::blas_description()
            << ", " << torch::get_num_threads() << " threads\n";
  const std::vector<std::string> precisions = split(precisions_option);
  json peaks;
  for (const auto& precision : precisions) {
    const auto dtype = precision == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    peaks[precision] = matmul_peak(dtype, 4096, 3.0);
    std::printf("matmul peak %-7s %8.1f GFLOP/s (4096x4096 products)\n", precision.c_str(),
                peaks[precision].get<double>() / 1e9);
  }
  std::fflush(stdout);

  // Inputs shared by the cases, written once.
  fs::create_directories(work);
  std::vector<std::string> photo_captions, demo_captions;
  bool need_full = std::any_of(cases.begin(), cases.end(), [](const Case& c) { return c.model == "full"; });
  bool need_demo = std::any_of(cases.begin(), cases.end(), [](const Case& c) { return c.model == "demo"; });
  if (need_full) {
    write_full_model(work / "full-model");
    photo_captions = write_photo_list(work / "photos", 48);
  }
  if (need_demo) demo_captions = write_demo_inputs(work);

  std::cout << "case            prec.   pairs/s step s  data   fwd    bwd   comm   opt   GFLOP/pair   MFU   RSS GB\n";
  json results = json::array();
  for (const auto& c : cases) {
    for (const auto& precision : precisions) {
      const fs::path result_file = work / ("result-" + c.name + "-" + precision + ".json");
      fs::remove(result_file);
      std::string command = std::string("\"") + argv[0] + "\" --run_case " + c.name + " --precision " + precision +
                            " --steps " + std::to_string(steps) + " --work \"" + work.string() + "\" --result \"" +
                            result_file.string() + "\" > \"" + (work / "case.log").string() + "\" 2>&1";
      if (std::system(command.c_str()) != 0 || !fs::exists(result_file)) {
        std::cerr << c.name << " " << precision << " failed; its output is in " << (work / "case.log").string() << "\n";
        return 1;
      }
      json r = dualclip::io::read_json(result_file);

      // FLOPs from the configuration and the expected padded caption length.
      const fs::path model_dir = work / (c.model == "full" ? "full-model" : "demo-model");
      const json config = dualclip::io::read_json(model_dir / "config.json");
      const int64_t max_length = c.model == "full" ? kCocoTokens : 32;
      const double text_tokens =
          c.pad_to_128 ? 128.0
                       : expected_padded_length(c.model == "full" ? photo_captions : demo_captions, model_dir, c.batch,
                                                max_length);
      const double global_batch = static_cast<double>(c.batch * c.nproc);
      const double flops = training_flops_per_pair(config, text_tokens, global_batch);
      const double pairs_per_second = global_batch / r["step_seconds"].get<double>();
      r.update({{"case", c.name}, {"precision", precision}, {"batch_per_process", c.batch}, {"processes", c.nproc},
                {"text_tokens", text_tokens}, {"pairs_per_second", pairs_per_second}, {"gflops_per_pair", flops / 1e9},
                {"achieved_gflops", pairs_per_second * flops / 1e9},
                {"peak_gflops", peaks[precision].get<double>() / 1e9},
                {"mfu", pairs_per_second * flops / peaks[precision].get<double>()}});
      print_row(r);
      results.push_back(r);
    }
  }

  if (!json_path.empty()) {
    json out = {{"torch", dualclip::runtime::torch_version()}, {"blas", dualclip::runtime::blas_description()},
                {"threads", torch::get_num_threads()}, {"peaks_gflops", peaks}, {"cases", results}};
    for (auto& [precision, value] : out["peaks_gflops"].items()) value = value.get<double>() / 1e9;
    dualclip::write_file_atomic(json_path, out.dump(2) + "\n");
  }
  fs::remove_all(work);
  return 0;
}
