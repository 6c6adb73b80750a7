#include "dualclip/train/checkpoint.h"

#include <algorithm>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"

namespace dualclip::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCheckpointPrefix = "checkpoint-";

// The step of a folder named checkpoint-<step>, or -1.
int64_t checkpoint_step(const fs::path& path) {
  std::string name = path.filename().string();
  if (name.rfind(kCheckpointPrefix, 0) != 0) return -1;
  std::string digits = name.substr(std::string(kCheckpointPrefix).size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

template <typename T>
T require_field(const json& object, const std::string& key, const std::string& source) {
  if (!object.contains(key)) throw Error(source + " lacks '" + key + "'; it is not a dualclip checkpoint state");
  return object.at(key).get<T>();
}

}  // namespace

json TrainerState::to_json() const {
  return {
      {"global_step", global_step},
      {"epoch", epoch},
      {"max_steps", max_steps},
      {"num_train_epochs", num_train_epochs},
      {"train_batch_size", train_batch_size},
      {"log_history", log_history},
      {"dualclip",
       {{"epoch_index", epoch_index},
        {"epoch_position", epoch_position},
        {"world_size", world_size},
        {"schedule",
         {{"kind", schedule_name(schedule.kind)},
          {"base_lr", schedule.base_lr},
          {"warmup_steps", schedule.warmup_steps},
          {"total_steps", schedule.total_steps}}},
        {"grad_scaler", {{"scale", scaler.scale}, {"growth_tracker", scaler.growth_tracker}}},
        {"nonfinite_steps", nonfinite_steps},
        {"skipped_images", skipped_images},
        {"samples_seen", samples_seen},
        {"train_loss_sum", train_loss_sum},
        {"train_seconds", train_seconds}}},
  };
}

TrainerState TrainerState::from_json(const json& root, const std::string& source) {
  TrainerState state;
  state.global_step = require_field<int64_t>(root, "global_step", source);
  state.epoch = require_field<double>(root, "epoch", source);
  state.max_steps = require_field<int64_t>(root, "max_steps", source);
  state.num_train_epochs = require_field<double>(root, "num_train_epochs", source);
  state.train_batch_size = require_field<int64_t>(root, "train_batch_size", source);
  state.log_history = root.value("log_history", json::array());

  const json own = require_field<json>(root, "dualclip", source);
  state.epoch_index = require_field<int64_t>(own, "epoch_index", source);
  state.epoch_position = require_field<int64_t>(own, "epoch_position", source);
  state.world_size = require_field<int>(own, "world_size", source);
  const json schedule = require_field<json>(own, "schedule", source);
  state.schedule.kind = parse_schedule_kind(require_field<std::string>(schedule, "kind", source));
  state.schedule.base_lr = require_field<double>(schedule, "base_lr", source);
  state.schedule.warmup_steps = require_field<int64_t>(schedule, "warmup_steps", source);
  state.schedule.total_steps = require_field<int64_t>(schedule, "total_steps", source);
  const json scaler = require_field<json>(own, "grad_scaler", source);
  state.scaler.scale = require_field<double>(scaler, "scale", source);
  state.scaler.growth_tracker = require_field<int64_t>(scaler, "growth_tracker", source);
  state.nonfinite_steps = require_field<int64_t>(own, "nonfinite_steps", source);
  state.skipped_images = require_field<int64_t>(own, "skipped_images", source);
  state.samples_seen = require_field<int64_t>(own, "samples_seen", source);
  state.train_loss_sum = require_field<double>(own, "train_loss_sum", source);
  state.train_seconds = own.value("train_seconds", 0.0);
  return state;
}

std::vector<fs::path> list_checkpoints(const fs::path& output_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  if (!fs::is_directory(output_dir)) return {};
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    int64_t step = checkpoint_step(entry.path());
    if (step >= 0 && entry.is_directory() && fs::exists(entry.path() / "trainer_state.json")) {
      found.emplace_back(step, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& item : found) paths.push_back(item.second);
  return paths;
}

std::optional<fs::path> latest_checkpoint(const fs::path& output_dir) {
  auto all = list_checkpoints(output_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

void copy_processor_files(const fs::path& from, const fs::path& to) {
  static const char* const kFiles[] = {"preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json",
                                       "vocab.json",               "merges.txt",            "vocab.txt",
                                       "tokenizer.json",           "added_tokens.json"};
  if (fs::equivalent(from, to)) return;
  for (const char* name : kFiles) {
    if (fs::exists(from / name)) fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
  }
}

io::TensorMap capture_rng_state() {
  io::TensorMap state;
  state["cpu"] = at::detail::getDefaultCPUGenerator().get_state();
  if (torch::cuda::is_available()) state["cuda"] = at::globalContext().defaultGenerator(at::kCUDA).get_state();
  return state;
}

void restore_rng_state(const io::TensorMap& state, const std::string& source) {
  auto cpu = state.find("cpu");
  if (cpu == state.end()) throw Error(source + " has no 'cpu' generator state");
  auto generator = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(cpu->second);
  }
  auto cuda = state.find("cuda");
  if (cuda != state.end() && torch::cuda::is_available()) {
    auto cuda_generator = at::globalContext().defaultGenerator(at::kCUDA);
    std::lock_guard<std::mutex> lock(cuda_generator.mutex());
    cuda_generator.set_state(cuda->second);
  }
}

fs::path save_checkpoint(const fs::path& output_dir, const TrainerState& state, models::DualEncoder& model,
                         const AdamW& optimizer, const fs::path& processor_dir, int64_t save_total_limit) {
  fs::path final_dir = output_dir / (kCheckpointPrefix + std::to_string(state.global_step));
  fs::path tmp_dir = output_dir / ("." + final_dir.filename().string() + ".tmp");

  // Everything goes into a temporary folder first.
  fs::remove_all(tmp_dir);
  fs::create_directories(tmp_dir);
  models::save_dual_encoder(model, tmp_dir);
  copy_processor_files(processor_dir, tmp_dir);
  io::write_safetensors(tmp_dir / "optimizer.safetensors", optimizer.state_tensors(), {{"format", "dualclip"}});
  io::write_safetensors(tmp_dir / "rng_state.safetensors", capture_rng_state(), {{"format", "dualclip"}});
  io::write_json(tmp_dir / "trainer_state.json", state.to_json());

  // Then it replaces any checkpoint of the same step (kept aside until the rename is done).
  fs::path old_dir = output_dir / ("." + final_dir.filename().string() + ".old");
  fs::remove_all(old_dir);
  if (fs::exists(final_dir)) fs::rename(final_dir, old_dir);
  fs::rename(tmp_dir, final_dir);
  fs::remove_all(old_dir);

  // Rotation: the oldest go first, as the Trainer's save_total_limit.
  if (save_total_limit > 0) {
    auto all = list_checkpoints(output_dir);
    for (size_t i = 0; i + static_cast<size_t>(save_total_limit) < all.size(); ++i) fs::remove_all(all[i]);
  }
  return final_dir;
}

void load_checkpoint(const fs::path& checkpoint, TrainerState& state, AdamW& optimizer) {
  fs::path state_file = checkpoint / "trainer_state.json";
  state = TrainerState::from_json(io::read_json(state_file), state_file.string());

  fs::path optimizer_file = checkpoint / "optimizer.safetensors";
  if (!fs::exists(optimizer_file)) {
    throw Error("checkpoint " + checkpoint.string() + " has no optimizer.safetensors; it cannot be resumed");
  }
  optimizer.load_state_tensors(io::read_safetensors(optimizer_file).tensors, optimizer_file.string());

  fs::path rng_file = checkpoint / "rng_state.safetensors";
  if (fs::exists(rng_file)) restore_rng_state(io::read_safetensors(rng_file).tensors, rng_file.string());
}

}  // namespace dualclip::train
