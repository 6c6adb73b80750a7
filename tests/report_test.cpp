// Tests of report/: the loss curve and heatmap PNGs (read back with cairo), metrics.jsonl
// parsing, axis ticks, the HTML report and the `plot` command.
#include <cmath>
#include <fstream>
#include <set>

#include <cairo/cairo.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/report/axis_ticks.h"
#include "dualclip/report/heatmap.h"
#include "dualclip/report/html_report.h"
#include "dualclip/report/loss_curve.h"
#include "dualclip/report/metrics_log.h"
#include "test_support.h"

namespace fs = std::filesystem;
using dualclip::testing::TempDir;

namespace {

struct Png {
  int width = 0;
  int height = 0;
  std::vector<uint32_t> pixels;  // 0x00RRGGBB
};

Png read_png(const fs::path& path) {
  cairo_surface_t* surface = cairo_image_surface_create_from_png(path.c_str());
  Png png;
  if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS) {
    png.width = cairo_image_surface_get_width(surface);
    png.height = cairo_image_surface_get_height(surface);
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    for (int y = 0; y < png.height; ++y) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
      for (int x = 0; x < png.width; ++x) png.pixels.push_back(row[x] & 0xffffff);
    }
  }
  cairo_surface_destroy(surface);
  return png;
}

size_t distinct_colours(const Png& png) { return std::set<uint32_t>(png.pixels.begin(), png.pixels.end()).size(); }

// A run's metrics.jsonl: `steps` training rows with a decaying noisy loss, an eval row every
// 50 steps, and the malformed lines given.
void write_metrics(const fs::path& path, int steps, const std::vector<std::string>& bad_lines) {
  std::ofstream out(path);
  for (int step = 1; step <= steps; ++step) {
    const double loss = 0.3 + 4.0 * std::exp(-step / 60.0) + 0.15 * std::sin(step * 1.7);
    out << nlohmann::json{{"step", step}, {"epoch", step / 100.0}, {"loss", loss}, {"learning_rate", 5e-4},
                          {"grad_norm", 1.2}, {"logit_scale", 14.3}, {"pairs_per_second", 900.0},
                          {"data_wait_fraction", 0.05}}
                  .dump()
        << "\n";
    if (step % 50 == 0) {
      out << nlohmann::json{{"step", step}, {"eval_loss", 0.5 + 3.5 * std::exp(-step / 60.0)},
                            {"eval_i2t_recall@1", step / 400.0}}
                 .dump()
          << "\n";
    }
    if (step == 20) {
      for (const auto& line : bad_lines) out << line << "\n";
    }
  }
  out << "{\"train_runtime\": 12.5, \"train_samples_per_second\": 850.0}\n";
}

}  // namespace

TEST(ReportMetricsLog, CountsRowsAndSkipsMalformedLines) {
  TempDir dir;
  const fs::path metrics = dir.path() / "metrics.jsonl";
  write_metrics(metrics, 200, {"{\"step\": 21, \"loss\": ", "[1, 2, 3]", "{\"step\": \"x\", \"loss\": 1.0}",
                               "{\"step\": 22, \"loss\": null}", "   "});

  const auto log = dualclip::report::read_metrics_log(metrics);
  EXPECT_EQ(log.training.size(), 200u);
  EXPECT_EQ(log.evaluation.size(), 4u);
  EXPECT_EQ(log.skipped_lines, 4);
  EXPECT_DOUBLE_EQ(log.training.front().step, 1);
  EXPECT_DOUBLE_EQ(log.training.front().learning_rate, 5e-4);
  EXPECT_DOUBLE_EQ(log.evaluation.back().step, 200);
  EXPECT_DOUBLE_EQ(log.evaluation.back().extra.at("eval_i2t_recall@1"), 0.5);
}

TEST(ReportMetricsLog, MissingFileThrows) {
  TempDir dir;
  EXPECT_THROW(dualclip::report::read_metrics_log(dir.path() / "absent.jsonl"), dualclip::Error);
}

TEST(ReportLossCurve, WritesPngOfRequestedSize) {
  TempDir dir;
  const fs::path metrics = dir.path() / "metrics.jsonl";
  write_metrics(metrics, 300, {"not json"});

  const fs::path png = dir.path() / "loss.png";
  dualclip::report::write_loss_curve_png(metrics, png);
  const Png image = read_png(png);
  EXPECT_EQ(image.width, 960);
  EXPECT_EQ(image.height, 560);
  EXPECT_GT(distinct_colours(image), 50u);

  dualclip::report::LossCurveOptions options;
  options.width = 640;
  options.height = 400;
  options.title = "small";
  dualclip::report::write_loss_curve_png(metrics, png, options);
  const Png small = read_png(png);
  EXPECT_EQ(small.width, 640);
  EXPECT_EQ(small.height, 400);
}

TEST(ReportLossCurve, DrawsTrainingAndEvalColours) {
  TempDir dir;
  const fs::path metrics = dir.path() / "metrics.jsonl";
  write_metrics(metrics, 300, {});
  const fs::path png = dir.path() / "loss.png";
  dualclip::report::write_loss_curve_png(metrics, png);
  const Png image = read_png(png);

  // The smoothed training line is drawn in an opaque blue, the eval markers in orange.
  auto count_near = [&](int r, int g, int b) {
    size_t count = 0;
    for (uint32_t p : image.pixels) {
      const int pr = (p >> 16) & 0xff, pg = (p >> 8) & 0xff, pb = p & 0xff;
      if (std::abs(pr - r) < 12 && std::abs(pg - g) < 12 && std::abs(pb - b) < 12) ++count;
    }
    return count;
  };
  EXPECT_GT(count_near(31, 102, 179), 200u);
  EXPECT_GT(count_near(222, 102, 13), 20u);
}

TEST(ReportLossCurve, OnlyMalformedLinesThrows) {
  TempDir dir;
  const fs::path metrics = dir.path() / "metrics.jsonl";
  dualclip::write_file_atomic(metrics, "garbage\n{\"step\": 1}\n");
  EXPECT_THROW(dualclip::report::write_loss_curve_png(metrics, dir.path() / "loss.png"), dualclip::Error);
  EXPECT_FALSE(fs::exists(dir.path() / "loss.png"));
}

TEST(ReportLossCurve, SmoothingKeepsConstantAndDebiases) {
  const auto flat = dualclip::report::smooth_ema({2, 2, 2, 2}, 0.9);
  for (double value : flat) EXPECT_NEAR(value, 2.0, 1e-12);

  // After a step from 0 to 1 the average approaches 1 from below.
  const auto step = dualclip::report::smooth_ema({0, 0, 1, 1, 1}, 0.5);
  EXPECT_DOUBLE_EQ(step[0], 0);
  EXPECT_GT(step[4], step[3]);
  EXPECT_LT(step[4], 1);

  EXPECT_EQ(dualclip::report::smoothing_weight(5), 0);
  EXPECT_NEAR(dualclip::report::smoothing_weight(100), 0.92, 1e-12);
  EXPECT_EQ(dualclip::report::smoothing_weight(100000), 0.95);
}

TEST(ReportAxisTicks, RoundNumbersInsideRange) {
  const auto ticks = dualclip::report::nice_ticks(0, 4.3, 6);
  EXPECT_EQ(ticks, (std::vector<double>{0, 1, 2, 3, 4}));

  const auto fine = dualclip::report::nice_ticks(0.13, 0.61, 5);
  ASSERT_EQ(fine.size(), 5u);
  EXPECT_NEAR(fine.front(), 0.2, 1e-12);
  EXPECT_NEAR(fine.back(), 0.6, 1e-12);

  EXPECT_EQ(dualclip::report::format_tick(0.2, 0.1), "0.2");
  EXPECT_EQ(dualclip::report::format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(dualclip::report::format_tick(300, 100), "300");
  EXPECT_EQ(dualclip::report::format_tick(4000, 2000), "4k");
}

TEST(ReportHeatmap, DrawsThumbnailsAndCells) {
  TempDir dir;
  const int image_count = 3, text_count = 4;

  // Thumbnails in pure colours that nothing else in the picture uses.
  const std::vector<std::array<uint8_t, 3>> colours = {{255, 0, 0}, {0, 0, 255}, {0, 255, 0}};
  std::vector<dualclip::vision::Image> images;
  for (const auto& colour : colours) {
    dualclip::vision::Image image;
    image.width = 32;
    image.height = 24;
    for (int i = 0; i < 32 * 24; ++i) image.rgb.insert(image.rgb.end(), colour.begin(), colour.end());
    images.push_back(image);
  }
  const torch::Tensor logits = torch::tensor({{5.0f, 1.0f, 0.0f, 0.5f}, {0.0f, 4.0f, 1.0f, 0.2f}, {0.3f, 0.2f, 0.1f, 6.0f}});
  const torch::Tensor probs = logits.softmax(-1);
  const std::vector<std::string> texts = {"a photo of a red square", "a photo of a blue square",
                                          "a long caption that needs to be wrapped onto more than one line to fit",
                                          "a photo of a green square"};
  const fs::path png = dir.path() / "heatmap.png";
  dualclip::report::HeatmapOptions options;
  options.cell_size = 60;
  dualclip::report::write_similarity_heatmap_png(probs, texts, images, "Zero-shot probabilities", png, options);

  const Png image = read_png(png);
  ASSERT_GT(image.width, image_count * 60);
  ASSERT_GT(image.height, text_count * 60);
  auto count = [&](uint32_t colour) { return std::count(image.pixels.begin(), image.pixels.end(), colour); };
  // Each thumbnail fills about (60 - 6) x 40 pixels.
  EXPECT_GT(count(0xff0000), 1500);
  EXPECT_GT(count(0x0000ff), 1500);
  EXPECT_GT(count(0x00ff00), 1500);
  EXPECT_GT(distinct_colours(image), 100u);
}

TEST(ReportHeatmap, RejectsMismatchedSizes) {
  TempDir dir;
  const torch::Tensor probs = torch::full({2, 3}, 1.0f / 3);
  const fs::path png = dir.path() / "heatmap.png";
  EXPECT_THROW(dualclip::report::write_similarity_heatmap_png(probs, {"a", "b"}, {}, "t", png), dualclip::Error);
  std::vector<dualclip::vision::Image> one_image(1);
  EXPECT_THROW(dualclip::report::write_similarity_heatmap_png(probs, {"a", "b", "c"}, one_image, "t", png),
               dualclip::Error);
  EXPECT_THROW(dualclip::report::write_similarity_heatmap_png(torch::ones({3}), {"a", "b", "c"}, {}, "t", png),
               dualclip::Error);
  EXPECT_THROW(dualclip::report::write_similarity_heatmap_png(torch::full({2, 3}, NAN), {"a", "b", "c"}, {}, "t", png),
               dualclip::Error);
  EXPECT_FALSE(fs::exists(png));

  // Without thumbnails the picture is still drawn.
  dualclip::report::write_similarity_heatmap_png(probs, {"a", "b", "c"}, {}, "no thumbnails", png);
  EXPECT_GT(read_png(png).width, 0);
}

TEST(ReportHtml, SectionsMetricsAndEscaping) {
  TempDir dir;
  std::vector<dualclip::report::ReportSection> sections(2);
  sections[0].heading = "Training <loss>";
  sections[0].paragraphs = {"Loss fell from 4.1 to 0.3 & kept falling."};
  sections[0].image = "loss.png";
  sections[0].image_caption = "Training loss per step";
  sections[1].heading = "Zero-shot";
  sections[1].table = {{"accuracy", "0.91"}};
  const nlohmann::json metrics = {{"zero_shot", {{"accuracy", 0.9125}, {"classes", 24}}},
                                  {"note", "</script> inside"},
                                  {"pairs_per_second", 1234.56}};
  const fs::path html = dir.path() / "report.html";
  dualclip::report::write_report_html(html, "Shapes demo", sections, metrics);

  const std::string page = dualclip::read_file(html);
  EXPECT_NE(page.find("<h2>Training &lt;loss&gt;</h2>"), std::string::npos);
  EXPECT_NE(page.find("4.1 to 0.3 &amp; kept"), std::string::npos);
  EXPECT_NE(page.find("<img src=\"loss.png\""), std::string::npos);
  EXPECT_NE(page.find("<th>zero_shot.accuracy</th><td class=\"value\">0.9125</td>"), std::string::npos);
  EXPECT_NE(page.find("<th>zero_shot.classes</th><td class=\"value\">24</td>"), std::string::npos);
  EXPECT_NE(page.find("<td class=\"value\">1234.6</td>"), std::string::npos);

  // The embedded JSON parses back to the metrics, and a "</script>" in it does not end the element.
  const std::string open_tag = "<script type=\"application/json\" id=\"metrics\">";
  const size_t begin = page.find(open_tag);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = page.find("</script>", begin);
  const std::string json_text = page.substr(begin + open_tag.size(), end - begin - open_tag.size());
  EXPECT_EQ(nlohmann::json::parse(json_text), metrics);
}

TEST(ReportPlotCommand, WritesLossPng) {
  TempDir dir;
  write_metrics(dir.path() / "metrics.jsonl", 120, {"{broken"});
  std::string output;
  EXPECT_EQ(dualclip::testing::run_dualclip("plot " + dir.path().string(), &output), 0) << output;
  EXPECT_NE(output.find("metrics.jsonl:21: skipped line: not valid JSON"), std::string::npos) << output;
  EXPECT_EQ(read_png(dir.path() / "loss.png").width, 960);

  const fs::path other = dir.path() / "other.png";
  EXPECT_EQ(dualclip::testing::run_dualclip("plot --run_dir " + dir.path().string() + " --output " + other.string(),
                                            &output),
            0)
      << output;
  EXPECT_TRUE(fs::exists(other));

  EXPECT_EQ(dualclip::testing::run_dualclip("plot " + (dir.path() / "nothing").string(), &output), 2);
  EXPECT_NE(output.find("metrics.jsonl not found"), std::string::npos) << output;
}
