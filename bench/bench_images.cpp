// Decode + preprocess throughput of one thread, in images per CPU second, to the CLIP default
// 224x224. The benchmark writes its own photo-like JPEGs of 640x480 to 1024x768 (quality 90,
// 4:2:0). It times the exact path, the fast path and, when Debian's python3-pil is installed,
// Pillow's own decode + bicubic resize of the same files, and reports the fast path's drift.
//
// usage: bench_images [--images N] [--seconds S] [--json FILE]
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/fs.h"
#include "dualclip/vision/processor.h"
#include "dualclip/vision/synthetic.h"

namespace {

using dualclip::vision::ImageProcessor;
using dualclip::vision::ImageProcessorConfig;

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

// Pillow's decode + convert("RGB") + resize(BICUBIC) to the shortest-edge size, one thread,
// in images/s; negative when python3-pil is not installed. Debian's python3-pil belongs to
// /usr/bin/python3, which another python3 earlier on PATH (pyenv, a venv) cannot import.
double pillow_images_per_second(const std::vector<std::string>& paths, double seconds, const std::string& dir) {
  const std::string python = std::system("/usr/bin/python3 -c 'import PIL' >/dev/null 2>&1") == 0 ? "/usr/bin/python3"
                                                                                                   : "python3";
  if (std::system((python + " -c 'import PIL' >/dev/null 2>&1").c_str()) != 0) return -1;
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
  std::string command = "OMP_NUM_THREADS=1 " + python + " " + script + " " + std::to_string(seconds);
  for (const auto& p : paths) command += " " + p;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  double rate = -1;
  if (std::fscanf(pipe, "%lf", &rate) != 1) rate = -1;
  pclose(pipe);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 24;
  double seconds = 3.0;
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") images = std::atoi(argv[i + 1]);
    else if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--json") json_path = argv[i + 1];
    else {
      std::cerr << "unknown option " << flag << "; usage: bench_images [--images N] [--seconds S] [--json FILE]\n";
      return 2;
    }
  }
  at::set_num_threads(1);

  // Files.
  std::string dir_template = (std::filesystem::temp_directory_path() / "bench_images-XXXXXX").string();
  const std::string dir = mkdtemp(dir_template.data());
  std::vector<std::string> paths;
  for (int i = 0; i < images; ++i) {
    const auto& size = kSizes[i % (sizeof(kSizes) / sizeof(kSizes[0]))];
    const auto photo = dualclip::vision::make_synthetic_photo(size[0], size[1], 1000 + i);
    paths.push_back(dir + "/photo" + std::to_string(i) + ".jpg");
    dualclip::write_file_atomic(paths.back(), dualclip::vision::encode_jpeg(photo, 90));
  }

  // Throughput.
  const ImageProcessor processor{ImageProcessorConfig{}};
  const double exact = images_per_second(paths.size(), seconds, [&](size_t i) { processor.load(paths[i]); });
  const double fast = images_per_second(paths.size(), seconds, [&](size_t i) { processor.load(paths[i], true); });
  const double decode_only = images_per_second(paths.size(), seconds, [&](size_t i) {
    dualclip::vision::decode_image_file(paths[i]);
  });
  std::vector<dualclip::vision::Image> decoded;
  for (const auto& path : paths) decoded.push_back(dualclip::vision::decode_image_file(path));
  const double preprocess_only = images_per_second(paths.size(), seconds, [&](size_t i) {
    processor.preprocess(decoded[i]);
  });
  const double pillow = pillow_images_per_second(paths, seconds, dir);

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

  const double pillow_baseline = 144.0;  // Pillow 9.4 + HF CLIPImageProcessor, one core of this machine
  std::printf("decode+preprocess to 224x224, one thread, images per CPU second, %d JPEGs 640x480..1024x768 q90\n", images);
  std::printf("%-34s %10s %12s\n", "path", "images/s", "vs 144/s");
  std::printf("%-34s %10.1f %11.2fx\n", "exact (Pillow-identical)", exact, exact / pillow_baseline);
  std::printf("%-34s %10.1f %11.2fx\n", "fast (DCT-scaled decode)", fast, fast / pillow_baseline);
  std::printf("%-34s %10.1f %11.2fx\n", "decode only (full size)", decode_only, decode_only / pillow_baseline);
  std::printf("%-34s %10.1f %11.2fx\n", "exact preprocess of decoded RGB", preprocess_only,
              preprocess_only / pillow_baseline);
  if (pillow >= 0) {
    std::printf("%-34s %10.1f %11.2fx\n", "Pillow decode+resize (python3-pil)", pillow, pillow / pillow_baseline);
  } else {
    std::printf("Pillow: python3-pil is not installed, not measured\n");
  }
  std::printf("fast-path drift: max %.4f mean %.5f (normalised); max %.2f mean %.3f (0..255 steps)\n", max_diff,
              sum_diff / count, max_steps, sum_steps / count);

  if (!json_path.empty()) {
    nlohmann::json report = {{"images", images},
                             {"threads", 1},
                             {"exact_images_per_s", exact},
                             {"fast_images_per_s", fast},
                             {"decode_only_images_per_s", decode_only},
                             {"preprocess_only_images_per_s", preprocess_only},
                             {"pillow_images_per_s", pillow >= 0 ? nlohmann::json(pillow) : nlohmann::json()},
                             {"fast_drift_max_normalised", max_diff},
                             {"fast_drift_mean_normalised", sum_diff / count},
                             {"fast_drift_max_steps", max_steps},
                             {"fast_drift_mean_steps", sum_steps / count}};
    dualclip::write_file_atomic(json_path, report.dump(2) + "\n");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
