#include <filesystem>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/report/loss_curve.h"

namespace dualclip::cli {

int run_plot(const std::vector<std::string>& args) {
  ArgParser parser("plot", "Draw the loss curve of a training run: RUN_DIR/metrics.jsonl to RUN_DIR/loss.png.");
  parser.add_option("run_dir", "", "Run folder holding metrics.jsonl; may also be given as the first argument.", "DIR");
  parser.add_option("output", "", "PNG file to write (default: RUN_DIR/loss.png).", "FILE");
  parser.add_option("title", "", "Title of the picture (default: 'Contrastive loss: ' and the run folder's name).",
                    "TEXT");

  // `dualclip plot RUN_DIR ...`: the run folder may come first without an option name.
  std::vector<std::string> rest = args;
  std::string run_dir;
  if (!rest.empty() && rest[0].rfind("-", 0) != 0) {
    run_dir = rest[0];
    rest.erase(rest.begin());
  }
  if (!parser.parse(rest)) return 0;
  if (parser.given("run_dir")) {
    if (!run_dir.empty()) throw Error("the run folder was given twice ('" + run_dir + "' and --run_dir); give it once");
    run_dir = parser.get("run_dir");
  }
  if (run_dir.empty()) throw Error("missing run folder; usage: dualclip plot RUN_DIR [--output FILE]");

  const std::filesystem::path metrics = std::filesystem::path(run_dir) / "metrics.jsonl";
  if (!std::filesystem::exists(metrics)) {
    throw Error(metrics.string() + " not found; RUN_DIR must be the output_dir of a 'dualclip train' run");
  }
  const std::filesystem::path png =
      parser.given("output") ? std::filesystem::path(parser.get("output")) : std::filesystem::path(run_dir) / "loss.png";

  report::LossCurveOptions options;
  options.title = parser.get_optional("title").value_or("");
  report::write_loss_curve_png(metrics, png, options);
  log::info("wrote " + png.string());
  return 0;
}

}  // namespace dualclip::cli
