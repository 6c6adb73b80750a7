#include "dualclip/train/run_outputs.h"

#include "dualclip/core/log.h"
#include "dualclip/io/model_dir.h"

#include "dualclip/core/error.h"
#include "dualclip/report/loss_curve.h"

namespace dualclip::train {

namespace fs = std::filesystem;
using nlohmann::json;

json train_results(const TrainerState& state, int64_t skipped_images, int64_t train_samples) {
  double runtime = std::max(state.train_seconds, 1e-9);
  return {{"train_loss", state.global_step > 0 ? state.train_loss_sum / static_cast<double>(state.global_step) : 0.0},
          {"train_runtime", state.train_seconds},
          {"train_samples_per_second", static_cast<double>(state.samples_seen) / runtime},
          {"train_steps_per_second", static_cast<double>(state.global_step) / runtime},
          {"epoch", state.epoch},
          {"train_samples", train_samples},
          {"skipped_images", skipped_images},
          {"skipped_steps", state.nonfinite_steps}};
}

void write_final_outputs(const TrainingArguments& args, models::DualEncoder& model, const fs::path& processor_dir,
                         const TrainerState& state, const json& train_metrics, const json& eval_metrics) {
  const fs::path& out = args.output_dir;
  if (args.do_train) {
    models::save_dual_encoder(model, out);
    copy_processor_files(processor_dir, out);
    io::write_json(out / "trainer_state.json", state.to_json());
    io::write_json(out / "training_args.json", args.to_json());
  }

  // The Trainer's result files: each part on its own and all of them merged.
  json all = json::object();
  if (!train_metrics.empty()) {
    io::write_json(out / "train_results.json", train_metrics);
    all.update(train_metrics);
  }
  if (!eval_metrics.empty()) {
    io::write_json(out / "eval_results.json", eval_metrics);
    all.update(eval_metrics);
  }
  if (!all.empty()) io::write_json(out / "all_results.json", all);
  if (args.do_train) write_loss_picture(out);
}

void write_loss_picture(const fs::path& output_dir) {
  // A checkpoint before the first logging step finds no rows yet; the picture then waits for
  // the next checkpoint instead of failing the run.
  fs::path metrics = output_dir / "metrics.jsonl";
  if (!fs::exists(metrics) || fs::file_size(metrics) == 0) return;
  try {
    report::write_loss_curve_png(metrics, output_dir / "loss.png");
  } catch (const Error& e) {
    log::warn(std::string("loss.png not written: ") + e.what());
  }
}

}  // namespace dualclip::train
