// Decode + preprocess throughput of one thread, in images per CPU second, to the CLIP default
// 224x224. It reads the JPEGs of --image_dir (COCO's val2017, say) or writes its own
// photo-like ones of 640x480 to 1024x768 (quality 90, 4:2:0). It times the exact path, the fast
// path and, where /usr/bin/python3 has Debian's python3-pil and python3-numpy, two Python
// figures on the same files. One is Pillow's decode + bicubic resize. The other is the peer
// (clip_processor_peer.py, CLIPImageProcessor's steps), whose pixel_values are compared with
// dualclip's exact path. Each of --rounds rounds times every figure once, and the table shows
// medians. It also reports the fast path's drift from the exact path, and the libjpeg floor: the
// speed of the entropy decoding that every libjpeg-turbo path pays, an upper bound for the fast
// path.
//
// usage: bench_images [--images N] [--image_dir DIR] [--seconds S] [--rounds R] [--json FILE]
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/fs.h"
#include "dualclip/vision/image.h"
#include "dualclip/vision/processor.h"
#include "dualclip/vision/synthetic.h"

namespace {

using dualclip::vision::ImageProcessor;
using dualclip::vision::ImageProcessorConfig;

const std::vector<const char*> kPathNames = {"exact (Pillow-identical)", "fast (DCT-scaled decode)",
                                              "decode only (full size)", "exact preprocess of decoded RGB",
                                              "libjpeg floor (1/8 scale, 1 column)", "Pillow decode+resize",
                                              "peer: CLIPImageProcessor steps"};
const std::vector<const char*> kPathKeys = {"exact", "fast", "decode_only", "preprocess_only", "libjpeg_floor",
                                            "pillow", "peer"};
const size_t kPeer = 6;

// Decodes with the minimum work of any libjpeg-turbo path: the file read, DCT scale 1/8, and only
// the first block column and its margin. Entropy decoding still covers every block, so this
// speed is an upper bound for the fast path.
dualclip::vision::Image libjpeg_floor_decode(const std::string& path) {
  dualclip::vision::DecodeOptions options;
  options.min_shorter_side = 1;
  options.needed_columns = [](int64_t, int64_t) { return std::pair<int64_t, int64_t>{0, 1}; };
  return dualclip::vision::decode_image_file(path, options);
}

// The median of `values` (the mean of the middle two for an even count); -1 when any is
// negative, which marks a figure that could not be measured.
double median(std::vector<double> values) {
  if (values.empty() || *std::min_element(values.begin(), values.end()) < 0) return -1;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

const int kSizes[][2] = {{640, 480}, {800, 600}, {1024, 768}, {720, 540}, {960, 720}, {768, 1024}};

// CPU time of this thread, so that other processes on a shared machine do not count.
double thread_cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}

// Runs `step(i)` over the files round-robin for at least `seconds` of CPU time; returns
// images per CPU second.
template <typename Step>
double images_per_second(size_t files, double seconds, Step step) {
  for (size_t i = 0; i < files; ++i) step(i);  // warm-up: page cache, allocator
  size_t done = 0;
  const double start = thread_cpu_seconds();
  double elapsed = 0;
  while (elapsed < seconds || done < files) {
    step(done % files);
    ++done;
    elapsed = thread_cpu_seconds() - start;
  }
  return done / elapsed;
}

// The Python interpreter that can import `modules` (Debian's python3-pil, python3-numpy), or
// empty. /usr/bin/python3 comes first because another python3 earlier on PATH (pyenv, a venv)
// cannot import Debian's packages.
std::string python_with(const std::string& modules) {
  for (const std::string python : {"/usr/bin/python3", "python3"}) {
    if (std::system((python + " -c 'import " + modules + "' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return "";
}

// Runs `command` (which prints one number, images per CPU second) over the files; negative
// when it fails.
double python_images_per_second(std::string command, const std::vector<std::string>& paths) {
  for (const auto& p : paths) command += " " + p;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  double rate = -1;
  if (std::fscanf(pipe, "%lf", &rate) != 1) rate = -1;
  return pclose(pipe) == 0 ? rate : -1;
}

// Pillow's decode + convert("RGB") + resize(BICUBIC) to the shortest-edge size, one thread:
// the first two steps of CLIPImageProcessor, without its numpy work.
double pillow_images_per_second(const std::vector<std::string>& paths, double seconds, const std::string& dir) {
  const std::string python = python_with("PIL");
  if (python.empty()) return -1;
  const std::string script = dir + "/pillow_bench.py";
  std::ofstream(script) << "import sys, time\n"
                           "from PIL import Image\n"
                           "paths = sys.argv[2:]\n"
                           "def step(p):\n"
                           "    im = Image.open(p).convert('RGB')\n"
                           "    w, h = im.size\n"
                           "    s = 224\n"
                           "    size = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)\n"
                           "    im.resize(size, resample=3, reducing_gap=None)\n"
                           "for p in paths: step(p)\n"
                           "n, t0 = 0, time.thread_time()\n"
                           "while time.thread_time() - t0 < float(sys.argv[1]) or n < len(paths):\n"
                           "    step(paths[n % len(paths)]); n += 1\n"
                           "print(n / (time.thread_time() - t0))\n";
  return python_images_per_second("OMP_NUM_THREADS=1 " + python + " " + script + " " + std::to_string(seconds), paths);
}

// The Python peer: CLIPImageProcessor's steps replayed with Pillow and numpy
// (bench/clip_processor_peer.py), one thread. It writes each file's pixel_values into `dir`.
double peer_images_per_second(const std::vector<std::string>& paths, double seconds, const std::string& dir) {
  const std::string python = python_with("PIL, numpy");
  if (python.empty()) return -1;
  const std::string script = std::string(DUALCLIP_BENCH_DIR) + "/clip_processor_peer.py";
  return python_images_per_second(
      "OMP_NUM_THREADS=1 " + python + " " + script + " " + std::to_string(seconds) + " " + dir, paths);
}

// The maximum absolute difference between the peer's pixel_values and dualclip's exact path over
// every file. Negative when a dump is missing or too short.
double peer_max_difference(const ImageProcessor& processor, const std::vector<std::string>& paths,
                           const std::string& dir) {
  double max_difference = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    const torch::Tensor ours = processor.load(paths[i]);
    std::ifstream dump(dir + "/" + std::to_string(i) + ".f32", std::ios::binary);
    std::vector<float> theirs(ours.numel());
    if (!dump.read(reinterpret_cast<char*>(theirs.data()), theirs.size() * sizeof(float))) return -1;
    const torch::Tensor difference = (torch::from_blob(theirs.data(), ours.sizes()) - ours).abs().max();
    max_difference = std::max(max_difference, difference.item<double>());
  }
  return max_difference;
}

// `count` JPEG paths: the files of `image_dir` (sorted, *.jpg and *.jpeg) when given, or
// photo-like JPEGs of COCO's sizes written into `dir`.
std::vector<std::string> benchmark_files(const std::string& image_dir, int count, const std::string& dir) {
  std::vector<std::string> paths;
  if (!image_dir.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(image_dir)) {
      const std::string extension = entry.path().extension().string();
      if (entry.is_regular_file() && (extension == ".jpg" || extension == ".jpeg")) paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());
    if (paths.empty()) throw std::runtime_error("--image_dir " + image_dir + " contains no .jpg or .jpeg file; pass a folder of JPEG files");
    if (static_cast<int>(paths.size()) > count) paths.resize(count);
    return paths;
  }
  for (int i = 0; i < count; ++i) {
    const auto& size = kSizes[i % (sizeof(kSizes) / sizeof(kSizes[0]))];
    const auto photo = dualclip::vision::make_synthetic_photo(size[0], size[1], 1000 + i);
    paths.push_back(dir + "/photo" + std::to_string(i) + ".jpg");
    dualclip::write_file_atomic(paths.back(), dualclip::vision::encode_jpeg(photo, 90));
  }
  return paths;
}

double mean_bits_per_pixel(const std::vector<std::string>& paths) {
  double bits = 0;
  double pixels = 0;
  for (const auto& path : paths) {
    const auto image = dualclip::vision::decode_image_file(path);
    bits += 8.0 * std::filesystem::file_size(path);
    pixels += static_cast<double>(image.width) * image.height;
  }
  return bits / pixels;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 24;
  double seconds = 3.0;
  std::string json_path;
  std::string image_dir;
  int rounds = 3;
  const char* usage = "usage: bench_images [--images N] [--image_dir DIR] [--seconds S] [--rounds R] [--json FILE]\n";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << flag << "; " << usage;
      return 2;
    }
    if (flag == "--images") images = std::atoi(argv[i + 1]);
    else if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--json") json_path = argv[i + 1];
    else if (flag == "--image_dir") image_dir = argv[i + 1];
    else if (flag == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::cerr << "unknown option " << flag << "; " << usage;
      return 2;
    }
  }
  at::set_num_threads(1);

  // Files.
  std::string dir_template = (std::filesystem::temp_directory_path() / "bench_images-XXXXXX").string();
  const std::string dir = mkdtemp(dir_template.data());
  const std::vector<std::string> paths = benchmark_files(image_dir, images, dir);
  const double bits_per_pixel = mean_bits_per_pixel(paths);

  // Throughput, in rounds: each round times every path and the Python figures once, so that a
  // drift in the machine's speed shows up in both sides of a round's ratio.
  const ImageProcessor processor{ImageProcessorConfig{}};
  std::vector<dualclip::vision::Image> decoded;
  for (const auto& path : paths) decoded.push_back(dualclip::vision::decode_image_file(path));
  std::vector<std::vector<double>> rates(kPathNames.size());
  for (int round = 0; round < rounds; ++round) {
    rates[0].push_back(images_per_second(paths.size(), seconds, [&](size_t i) { processor.load(paths[i]); }));
    rates[1].push_back(images_per_second(paths.size(), seconds, [&](size_t i) { processor.load(paths[i], true); }));
    rates[2].push_back(images_per_second(paths.size(), seconds, [&](size_t i) {
      dualclip::vision::decode_image_file(paths[i]);
    }));
    rates[3].push_back(images_per_second(paths.size(), seconds, [&](size_t i) { processor.preprocess(decoded[i]); }));
    rates[4].push_back(images_per_second(paths.size(), seconds, [&](size_t i) { libjpeg_floor_decode(paths[i]); }));
    rates[5].push_back(pillow_images_per_second(paths, seconds, dir));
    rates[kPeer].push_back(peer_images_per_second(paths, seconds, dir));
  }
  const double peer = median(rates[kPeer]);
  const double peer_difference = peer >= 0 ? peer_max_difference(processor, paths, dir) : -1;

  // Drift of the fast path from the exact path, in normalised units and in 0..255 steps.
  double max_diff = 0;
  double sum_diff = 0;
  double max_steps = 0;
  double sum_steps = 0;
  int64_t count = 0;
  const auto std_tensor = torch::tensor(std::vector<float>(processor.config().image_std.begin(),
                                                           processor.config().image_std.end())).view({3, 1, 1});
  for (const auto& path : paths) {
    const torch::Tensor diff = (processor.load(path, true) - processor.load(path)).abs();
    const torch::Tensor steps = diff * std_tensor * 255.0;  // undo normalise and rescale
    max_diff = std::max(max_diff, diff.max().item<double>());
    sum_diff += diff.sum().item<double>();
    max_steps = std::max(max_steps, steps.max().item<double>());
    sum_steps += steps.sum().item<double>();
    count += diff.numel();
  }

  // The table: the median of each path's rounds and the median of its per-round ratios to the
  // peer. The last column divides by the figure the targets were set from: Pillow 9.4 +
  // transformers 4.40's CLIPImageProcessor on one core of another machine, on other JPEGs.
  const double reference = 144.0;
  std::printf("decode+preprocess to 224x224, one thread, images per CPU second, median of %d rounds\n", rounds);
  std::printf("%zu JPEGs from %s, %.2f bits per pixel\n", paths.size(),
              image_dir.empty() ? "the generator (640x480..1024x768, q90)" : image_dir.c_str(), bits_per_pixel);
  std::printf("%-36s %10s %12s %10s\n", "path", "images/s", "vs peer", "vs 144/s");
  nlohmann::json paths_json = nlohmann::json::object();
  for (size_t p = 0; p < kPathNames.size(); ++p) {
    const double rate = median(rates[p]);
    if (rate < 0) continue;
    std::vector<double> ratios;
    for (int round = 0; round < rounds; ++round) {
      if (rates[kPeer][round] > 0) ratios.push_back(rates[p][round] / rates[kPeer][round]);
    }
    const double ratio = ratios.empty() ? -1 : median(ratios);
    if (ratio > 0) std::printf("%-36s %10.1f %11.2fx %9.2fx\n", kPathNames[p], rate, ratio, rate / reference);
    else std::printf("%-36s %10.1f %12s %9.2fx\n", kPathNames[p], rate, "-", rate / reference);
    paths_json[kPathKeys[p]] = {{"images_per_s", rate}, {"rounds", rates[p]}, {"vs_peer", ratio > 0 ? nlohmann::json(ratio) : nlohmann::json()}};
  }
  if (peer < 0) std::printf("peer: /usr/bin/python3 lacks python3-pil or python3-numpy, not measured\n");
  else std::printf("peer pixel_values vs dualclip exact: max abs difference %g\n", peer_difference);
  std::printf("fast-path drift: max %.4f mean %.5f (normalised); max %.2f mean %.3f (0..255 steps)\n", max_diff,
              sum_diff / count, max_steps, sum_steps / count);

  if (!json_path.empty()) {
    nlohmann::json report = {{"images", paths.size()},
                             {"image_dir", image_dir},
                             {"bits_per_pixel", bits_per_pixel},
                             {"threads", 1},
                             {"rounds", rounds},
                             {"paths", paths_json},
                             {"peer_max_abs_difference", peer_difference >= 0 ? nlohmann::json(peer_difference) : nlohmann::json()},
                             {"fast_drift_max_normalised", max_diff},
                             {"fast_drift_mean_normalised", sum_diff / count},
                             {"fast_drift_max_steps", max_steps},
                             {"fast_drift_mean_steps", sum_steps / count}};
    dualclip::write_file_atomic(json_path, report.dump(2) + "\n");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
