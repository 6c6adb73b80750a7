#include "dualclip/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <memory>
#include <sstream>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/data/loader.h"
#include "dualclip/data/sampler.h"
#include "dualclip/dist/distributed.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/train/checkpoint.h"
#include "dualclip/train/parameter_groups.h"
#include "dualclip/train/progress.h"
#include "dualclip/train/run_outputs.h"
#include "dualclip/train/signals.h"
#include "dualclip/train/step.h"

namespace dualclip::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string join_paths(const std::vector<fs::path>& paths) {
  std::string text;
  for (const auto& path : paths) text += (text.empty() ? "" : ", ") + path.string();
  return text;
}

// Reads a split and applies --max_*_samples and the missing-image rule.
data::CaptionDataset load_split(const TrainingArguments& args, bool train) {
  const fs::path& list = train ? args.train_file : args.validation_file;
  data::CaptionDataset dataset = !list.empty()
                                     ? data::read_caption_list(list, {args.image_column, args.caption_column})
                                     : data::read_coco_captions(args.data_dir, train ? "train" : "val");
  data::truncate_dataset(dataset, train ? args.max_train_samples : args.max_eval_samples);
  data::drop_missing_images(dataset, args.strict_data);
  if (dataset.missing_images > 0) {
    log::warn(std::to_string(dataset.missing_images) + " image(s) listed in " + dataset.source +
              " were not found and are skipped; the first: " + join_paths(dataset.first_missing));
  }
  if (dataset.examples.empty()) throw Error(dataset.source + " has no usable examples");
  log::info((train ? "train: " : "eval: ") + std::to_string(dataset.examples.size()) + " image-caption pairs from " +
            dataset.source);
  return dataset;
}

// Which steps of an epoch are optimizer steps: groups of gradient_accumulation_steps
// micro-batches, where a shorter last group joins the one before it so no data is left out.
std::vector<std::vector<std::vector<int64_t>>> group_micro_batches(std::vector<std::vector<int64_t>> batches,
                                                                    int64_t accumulation) {
  std::vector<std::vector<std::vector<int64_t>>> steps;
  for (size_t i = 0; i < batches.size(); i += static_cast<size_t>(accumulation)) {
    size_t end = std::min(batches.size(), i + static_cast<size_t>(accumulation));
    std::vector<std::vector<int64_t>> group(batches.begin() + i, batches.begin() + end);
    if (static_cast<int64_t>(group.size()) < accumulation && !steps.empty()) {
      for (auto& batch : group) steps.back().push_back(std::move(batch));
    } else {
      steps.push_back(std::move(group));
    }
  }
  return steps;
}

// Averages of the quantities logged every logging_steps.
struct LogWindow {
  double loss_sum = 0.0;
  double grad_norm_sum = 0.0;
  int64_t steps = 0;
  int64_t pairs = 0;
  double data_wait_seconds = 0.0;
  double forward_seconds = 0.0;
  double backward_seconds = 0.0;
  double communication_seconds = 0.0;
  double optimizer_seconds = 0.0;
  Clock::time_point start = Clock::now();

  void reset() { *this = LogWindow(); }
};

class TrainingRun {
 public:
  explicit TrainingRun(const TrainingArguments& args) : args_(args) {}
  int run();

 private:
  void set_up_device_and_processes();
  void load_model(const std::optional<fs::path>& checkpoint);
  void plan_steps();
  int train(const std::optional<fs::path>& checkpoint);
  json evaluate();
  void save(const std::string& why);
  void log_step(const StepStats& stats, double lr);
  void maybe_evaluate_and_save(bool epoch_end);

  const TrainingArguments& args_;
  torch::Device device_ = torch::kCPU;
  Precision precision_ = Precision::Float32;
  fs::path processor_dir_;
  int64_t max_seq_length_ = 128;
  models::DualEncoder model_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::unique_ptr<vision::ImageProcessor> processor_;
  data::CaptionDataset train_data_;
  data::CaptionDataset eval_data_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  std::unique_ptr<StepRunner> step_runner_;
  TrainerState state_;
  int64_t steps_per_epoch_ = 1;
  ProgressReporter progress_{false, true};
  MetricsWriter metrics_;
  LogWindow window_;
  Clock::time_point train_start_ = Clock::now();
  double resumed_seconds_ = 0.0;
  int64_t steps_this_session_ = 0;
  json last_eval_;
};

void TrainingRun::set_up_device_and_processes() {
  dist::Environment env = dist::read_environment();
  bool cuda = !args_.use_cpu && torch::cuda::is_available();
  device_ = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank)) : torch::Device(torch::kCPU);
  if (args_.fp16 && !cuda) {
    throw Error("--fp16 needs a CUDA device; on CPU use --bf16 (bfloat16 autocast) or neither");
  }
  std::string precision_name = "float32";
  if (args_.bf16) {
    precision_ = Precision::BFloat16;
    precision_name = "bf16 autocast";
  } else if (args_.fp16) {
    precision_ = Precision::Float16;
    precision_name = "fp16 autocast with loss scaling";
  }
  if (env.world_size > 1) dist::initialize(env, device_, std::chrono::seconds(args_.ddp_timeout));
  log::info("device " + device_.str() + ", " + std::to_string(dist::world_size()) + " process(es), precision " +
            precision_name);
}

void TrainingRun::load_model(const std::optional<fs::path>& checkpoint) {
  // The seed is set before the model exists, as the Trainer does, so dropout draws repeat.
  torch::manual_seed(args_.seed);

  processor_dir_ = io::resolve_model_dir(args_.model_name_or_path);
  std::string weights = checkpoint ? checkpoint->string() : args_.model_name_or_path;
  model_ = models::load_dual_encoder(weights, {device_, torch::kFloat32});
  tokenizer_ = text::load_tokenizer(processor_dir_);
  max_seq_length_ = args_.max_seq_length;
  if (auto limit = tokenizer_->model_max_length(); limit && *limit < max_seq_length_) {
    log::info("--max_seq_length " + std::to_string(max_seq_length_) + " is above the tokenizer's model_max_length; using " +
              std::to_string(*limit));
    max_seq_length_ = *limit;
  }
  processor_ = std::make_unique<vision::ImageProcessor>(
      vision::read_image_processor_config(processor_dir_ / "preprocessor_config.json"));

  // Options that change the towers: dropout, frozen towers, gradient checkpointing.
  if (args_.dropout) model_->set_dropout(*args_.dropout);
  if (args_.freeze_vision_model) {
    for (auto& p : model_->vision_model->parameters()) p.set_requires_grad(false);
  }
  if (args_.freeze_text_model) {
    for (auto& p : model_->text_model->parameters()) p.set_requires_grad(false);
  }
  if (args_.gradient_checkpointing) {
    model_->vision_model->set_gradient_checkpointing(true);
    model_->text_model->set_gradient_checkpointing(true);
  }
}

void TrainingRun::plan_steps() {
  // Batches per epoch on each rank, as a DataLoader over a DistributedSampler counts them.
  int64_t size = static_cast<int64_t>(train_data_.examples.size());
  int64_t world = dist::world_size();
  int64_t per_rank = args_.dataloader_drop_last ? size / world : (size + world - 1) / world;
  int64_t batch = args_.per_device_train_batch_size;
  int64_t batches = args_.dataloader_drop_last ? per_rank / batch : (per_rank + batch - 1) / batch;
  if (batches == 0) {
    throw Error("the training set (" + std::to_string(size) + " pairs) is smaller than one global batch of " +
                std::to_string(batch * world) + " with --dataloader_drop_last; lower the batch size");
  }
  steps_per_epoch_ = std::max<int64_t>(1, batches / args_.gradient_accumulation_steps);

  int64_t max_steps = args_.max_steps > 0
                          ? args_.max_steps
                          : static_cast<int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(steps_per_epoch_)));
  state_.max_steps = max_steps;
  state_.num_train_epochs = args_.max_steps > 0
                                ? std::ceil(static_cast<double>(max_steps) / static_cast<double>(steps_per_epoch_))
                                : args_.num_train_epochs;
  state_.train_batch_size = batch;
  state_.world_size = static_cast<int>(world);
  state_.schedule.kind = args_.lr_scheduler_type;
  state_.schedule.base_lr = args_.learning_rate;
  state_.schedule.total_steps = max_steps;
  state_.schedule.warmup_steps = warmup_steps_for(args_.warmup_steps, args_.warmup_ratio, max_steps);
}

void TrainingRun::log_step(const StepStats& stats, double lr) {
  window_.steps += 1;
  window_.loss_sum += stats.loss;
  window_.grad_norm_sum += stats.grad_norm;
  window_.pairs += stats.pairs * dist::world_size();
  window_.forward_seconds += stats.forward_seconds;
  window_.backward_seconds += stats.backward_seconds;
  window_.communication_seconds += stats.communication_seconds;
  window_.optimizer_seconds += stats.optimizer_seconds;

  // The bar on every step; a metrics row and a log line every logging_steps.
  double elapsed = seconds_since(train_start_);
  double pairs_per_second = steps_this_session_ > 0 ? static_cast<double>(steps_this_session_) *
                                                          static_cast<double>(state_.train_batch_size) *
                                                          args_.gradient_accumulation_steps * dist::world_size() / elapsed
                                                    : 0.0;
  double seconds_per_step = steps_this_session_ > 0 ? elapsed / static_cast<double>(steps_this_session_) : 0.0;
  progress_.update({state_.global_step, state_.max_steps, state_.epoch, stats.loss, lr, pairs_per_second,
                    seconds_per_step * static_cast<double>(state_.max_steps - state_.global_step)});
  if (state_.global_step % args_.logging_steps != 0 && state_.global_step != state_.max_steps) return;

  // Phase times are rank 0's, averaged over the steps since the last row.
  double window_seconds = seconds_since(window_.start);
  const double steps = static_cast<double>(window_.steps);
  double logit_scale = model_->logit_scale.item<double>();
  json row = {{"step", state_.global_step},
              {"epoch", state_.epoch},
              {"loss", window_.loss_sum / static_cast<double>(window_.steps)},
              {"learning_rate", lr},
              {"grad_norm", window_.grad_norm_sum / static_cast<double>(window_.steps)},
              {"logit_scale", logit_scale},
              {"pairs_per_second", static_cast<double>(window_.pairs) / window_seconds},
              {"data_wait_share", window_.data_wait_seconds / window_seconds},
              {"step_seconds", window_seconds / steps},
              {"data_wait_seconds", window_.data_wait_seconds / steps},
              {"forward_seconds", window_.forward_seconds / steps},
              {"backward_seconds", window_.backward_seconds / steps},
              {"communication_seconds", window_.communication_seconds / steps},
              {"optimizer_seconds", window_.optimizer_seconds / steps}};
  metrics_.write(row);
  state_.log_history.push_back({{"loss", row["loss"]},
                                {"grad_norm", row["grad_norm"]},
                                {"learning_rate", lr},
                                {"epoch", state_.epoch},
                                {"step", state_.global_step}});

  std::ostringstream line;
  line << "step " << state_.global_step << "/" << state_.max_steps << "  epoch " << std::fixed;
  line.precision(2);
  line << state_.epoch << "  loss ";
  line.precision(4);
  line << row["loss"].get<double>() << "  lr " << std::scientific;
  line.precision(3);
  line << lr << std::fixed;
  line.precision(1);
  line << "  " << row["pairs_per_second"].get<double>() << " pairs/s  data wait "
       << 100.0 * row["data_wait_share"].get<double>() << "%";
  progress_.log_line(line.str());
  window_.reset();
}

void TrainingRun::save(const std::string& why) {
  // Every rank calls this. Rank 0 writes while the others wait at the barrier.
  if (dist::is_main_process()) {
    state_.train_seconds = resumed_seconds_ + seconds_since(train_start_);
    fs::path dir = save_checkpoint(args_.output_dir, state_, model_, *optimizer_, processor_dir_, args_.save_total_limit);
    write_loss_picture(args_.output_dir);
    progress_.log_line("saved " + dir.string() + " (" + why + ")");
  }
  if (dist::is_distributed()) dist::barrier();
}

json TrainingRun::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  auto start = Clock::now();

  // Each rank takes every world_size-th example; the loss is averaged over all examples.
  std::vector<int64_t> indices;
  for (int64_t i = dist::rank(); i < static_cast<int64_t>(eval_data_.examples.size()); i += dist::world_size()) {
    indices.push_back(i);
  }
  data::LoaderOptions options;
  options.max_seq_length = max_seq_length_;
  options.padding = args_.pad_to_max_length ? text::Padding::MaxLength : text::Padding::Longest;
  options.num_workers = args_.dataloader_num_workers;
  options.fast_images = !args_.exact_image_preprocessing;
  options.strict = args_.strict_data;
  data::DataLoader loader(eval_data_, *processor_, *tokenizer_, options);
  loader.start(data::make_batches(indices, args_.per_device_eval_batch_size, false));

  double loss_sum = 0.0;
  double count = 0.0;
  data::Batch batch;
  while (loader.next(batch)) {
    if (batch.size() == 0) continue;
    auto loss = batch_loss(model_, batch.pixel_values.to(device_), text::BatchEncoding{
        batch.text.input_ids.to(device_), batch.text.attention_mask.to(device_),
        batch.text.token_type_ids.defined() ? batch.text.token_type_ids.to(device_) : torch::Tensor()},
                           /*local_loss=*/true, precision_);
    loss_sum += loss.item<double>() * static_cast<double>(batch.size());
    count += static_cast<double>(batch.size());
  }
  loss_sum = dist::all_reduce_sum(loss_sum);
  count = dist::all_reduce_sum(count);
  model_->train();

  double runtime = seconds_since(start);
  json metrics = {{"eval_loss", count > 0 ? loss_sum / count : NAN},
                  {"eval_samples", static_cast<int64_t>(count)},
                  {"eval_runtime", runtime},
                  {"eval_samples_per_second", count / runtime},
                  {"epoch", state_.epoch}};
  return metrics;
}

void TrainingRun::maybe_evaluate_and_save(bool epoch_end) {
  int64_t eval_steps = args_.eval_steps > 0 ? args_.eval_steps : args_.logging_steps;
  bool evaluate_now = args_.do_eval && !eval_data_.examples.empty() &&
                      ((args_.evaluation_strategy == IntervalStrategy::Steps && !epoch_end &&
                        state_.global_step % eval_steps == 0) ||
                       (args_.evaluation_strategy == IntervalStrategy::Epoch && epoch_end));
  if (evaluate_now) {
    json metrics = evaluate();
    json row = metrics;
    row["step"] = state_.global_step;
    metrics_.write(row);
    state_.log_history.push_back(row);
    progress_.log_line("eval at step " + std::to_string(state_.global_step) + ": loss " +
                       std::to_string(metrics["eval_loss"].get<double>()));
    last_eval_ = metrics;
  }

  bool save_now = (args_.save_strategy == IntervalStrategy::Steps && !epoch_end &&
                   state_.global_step % args_.save_steps == 0) ||
                  (args_.save_strategy == IntervalStrategy::Epoch && epoch_end);
  if (save_now) save(epoch_end ? "end of epoch" : "every " + std::to_string(args_.save_steps) + " steps");
}

}  // namespace

namespace {

int TrainingRun::train(const std::optional<fs::path>& checkpoint) {
  // Optimizer over the trainable parameters, with the chosen decay rule.
  auto groups = make_parameter_groups(*model_, args_.weight_decay, args_.weight_decay_rule);
  optimizer_ = std::make_unique<AdamW>(std::move(groups),
                                       AdamWOptions{args_.adam_beta1, args_.adam_beta2, args_.adam_epsilon});
  plan_steps();

  // A resumed run takes its position, moments, schedule and generators from the checkpoint.
  if (checkpoint) {
    TrainerState planned = state_;
    load_checkpoint(*checkpoint, state_, *optimizer_);
    if (state_.world_size != planned.world_size || state_.max_steps != planned.max_steps) {
      log::warn("the checkpoint was written by a run of " + std::to_string(state_.world_size) + " process(es) and " +
                std::to_string(state_.max_steps) + " steps; this run has " + std::to_string(planned.world_size) +
                " and continues from global step " + std::to_string(state_.global_step) + " to " +
                std::to_string(planned.max_steps) + " at the same place in the epoch");
      state_.max_steps = planned.max_steps;
      state_.schedule.total_steps = planned.max_steps;
      state_.world_size = planned.world_size;
    }
    resumed_seconds_ = state_.train_seconds;
    log::info("resuming from " + checkpoint->string() + " at step " + std::to_string(state_.global_step));
  }

  if (dist::is_distributed()) reducer_ = std::make_unique<dist::GradientReducer>(optimizer_->parameters());
  StepOptions step_options;
  step_options.max_grad_norm = args_.max_grad_norm;
  step_options.logit_scale_clamp = args_.logit_scale_clamp;
  step_options.local_loss = args_.local_loss;
  step_options.precision = precision_;
  step_options.skip_nonfinite = args_.skip_nonfinite;
  step_options.max_rows_per_rank = args_.per_device_train_batch_size;
  step_runner_ = std::make_unique<StepRunner>(model_, *optimizer_, step_options, reducer_.get());
  step_runner_->scaler() = state_.scaler;

  if (dist::is_main_process()) metrics_.open(args_.output_dir / "metrics.jsonl", state_.global_step);
  progress_ = ProgressReporter(dist::is_main_process(), args_.disable_tqdm);
  log::info("training " + std::to_string(state_.max_steps) + " steps (" + std::to_string(steps_per_epoch_) +
            " per epoch), " + std::to_string(optimizer_->parameters().size()) + " trainable tensors, warmup " +
            std::to_string(state_.schedule.warmup_steps) + " steps");

  data::LoaderOptions loader_options;
  loader_options.max_seq_length = max_seq_length_;
  loader_options.padding = args_.pad_to_max_length ? text::Padding::MaxLength : text::Padding::Longest;
  loader_options.num_workers = args_.dataloader_num_workers;
  loader_options.fast_images = !args_.exact_image_preprocessing;
  loader_options.strict = args_.strict_data;
  data::DataLoader loader(train_data_, *processor_, *tokenizer_, loader_options);

  StopSignalScope signals;
  model_->train();
  train_start_ = Clock::now();
  window_.reset();
  int64_t world = dist::world_size();
  int64_t dataset_size = static_cast<int64_t>(train_data_.examples.size());
  std::vector<fs::path> unreadable_reported;

  while (state_.global_step < state_.max_steps) {
    // The epoch's batches from the recorded position on, grouped into optimizer steps.
    auto permutation = data::epoch_permutation(dataset_size, args_.seed, state_.epoch_index);
    auto indices = data::rank_indices(permutation, state_.epoch_position, dist::rank(), static_cast<int>(world),
                                      args_.dataloader_drop_last);
    auto steps = group_micro_batches(data::make_batches(indices, args_.per_device_train_batch_size,
                                                        args_.dataloader_drop_last),
                                     args_.gradient_accumulation_steps);
    std::vector<std::vector<int64_t>> flat_batches;
    for (const auto& group : steps) flat_batches.insert(flat_batches.end(), group.begin(), group.end());
    loader.start(flat_batches);

    bool epoch_finished = true;
    for (const auto& group : steps) {
      // Forward and backward of each micro-batch of this step.
      data::Batch batch;
      int64_t planned_samples = 0;
      int64_t micro_batches_used = 0;
      for (size_t micro = 0; micro < group.size(); ++micro) {
        const auto& planned = group[micro];
        loader.next(batch);
        planned_samples += static_cast<int64_t>(planned.size());
        state_.skipped_images += static_cast<int64_t>(batch.unreadable.size());
        for (const auto& path : batch.unreadable) {
          if (unreadable_reported.size() < 5) {
            unreadable_reported.push_back(path);
            log::warn("unreadable image skipped: " + path.string());
          }
        }
        // With several processes and the global-batch loss, every rank must join the forward
        // pass's all_gather. A rank whose batch lost every image cannot, so it stops the job
        // with a message instead of leaving the other ranks waiting until the timeout.
        if (batch.size() == 0 && dist::is_distributed() && !args_.local_loss) {
          throw Error("rank " + std::to_string(dist::rank()) + ": all " + std::to_string(batch.unreadable.size()) +
                      " images of a training batch were unreadable, so this rank cannot join the global-batch "
                      "loss. Remove the unreadable images from the data, or pass --local_loss");
        }
        if (batch.size() == 0) continue;
        text::BatchEncoding encoding{batch.text.input_ids.to(device_), batch.text.attention_mask.to(device_),
                                     batch.text.token_type_ids.defined() ? batch.text.token_type_ids.to(device_)
                                                                         : torch::Tensor()};
        step_runner_->accumulate(batch.pixel_values.to(device_), encoding, static_cast<int64_t>(group.size()),
                                 micro + 1 == group.size());
        ++micro_batches_used;
      }
      window_.data_wait_seconds += loader.take_wait_seconds();

      // The update, then the bookkeeping that a checkpoint records.
      double lr = state_.schedule.lr_for_step(state_.global_step + 1);
      StepStats stats;
      // With several processes every rank takes part in the update, even one whose batches
      // lost all their images, so that the collectives stay matched.
      if (micro_batches_used > 0 || dist::is_distributed()) {
        stats = step_runner_->apply(lr, state_.global_step + 1, stop_requested());
      } else {
        optimizer_->zero_grad();
        stats.skipped = true;
      }
      state_.scaler = step_runner_->scaler();
      if (stats.skipped) ++state_.nonfinite_steps;
      state_.global_step += 1;
      ++steps_this_session_;
      state_.epoch_position = std::min(dataset_size, state_.epoch_position + planned_samples * world);
      state_.epoch = static_cast<double>(state_.epoch_index) +
                     static_cast<double>(state_.epoch_position) / static_cast<double>(dataset_size);
      state_.samples_seen += stats.pairs * world;
      state_.train_loss_sum += stats.loss;
      log_step(stats, lr);

      // Evaluation and checkpoints by steps; a stop signal saves now and ends the run.
      maybe_evaluate_and_save(false);
      // With several processes the ranks' stop flags travelled with the update's non-finite
      // check, so that all of them stop after the same step.
      const bool stop = dist::is_distributed() ? stats.stop_requested : stop_requested();
      if (stop) {
        progress_.finish();
        save("stop requested by signal");
        int signal_number = stop_signal() != 0 ? stop_signal() : SIGTERM;
        log::info("stopped at step " + std::to_string(state_.global_step) +
                  "; run the same command again to resume from the checkpoint");
        return 128 + signal_number;
      }
      if (state_.global_step >= state_.max_steps && &group != &steps.back()) {
        epoch_finished = false;
        break;
      }
    }

    // The epoch ends when its batches are used up (not when max_steps stops it early).
    if (epoch_finished) {
      state_.epoch_index += 1;
      state_.epoch_position = 0;
      state_.epoch = static_cast<double>(state_.epoch_index);
      maybe_evaluate_and_save(true);
    }
  }
  progress_.finish();
  return 0;
}

int TrainingRun::run() {
  args_.validate();
  set_up_device_and_processes();

  // The output folder: resume, start fresh, or refuse (run_clip's rules).
  std::optional<fs::path> checkpoint;
  if (args_.do_train) checkpoint = find_resume_checkpoint(args_);
  if (dist::is_main_process()) fs::create_directories(args_.output_dir);
  if (dist::is_distributed()) dist::barrier();

  load_model(checkpoint);
  if (args_.do_train) train_data_ = load_split(args_, true);
  if (args_.do_eval) eval_data_ = load_split(args_, false);

  int status = 0;
  json train_metrics;
  if (args_.do_train) {
    status = train(checkpoint);
    if (status != 0) return status;
    state_.train_seconds = resumed_seconds_ + seconds_since(train_start_);
    int64_t skipped = train_data_.missing_images +
                      static_cast<int64_t>(dist::all_reduce_sum(static_cast<double>(state_.skipped_images)));
    train_metrics = train_results(state_, skipped, static_cast<int64_t>(train_data_.examples.size()));
    if (skipped > 0 || state_.nonfinite_steps > 0) {
      log::warn("skipped " + std::to_string(skipped) + " unreadable image(s) and " +
                std::to_string(state_.nonfinite_steps) + " step(s) without an update");
    }
  }

  json eval_metrics;
  if (args_.do_eval) {
    eval_metrics = evaluate();
    log::info("eval loss " + std::to_string(eval_metrics["eval_loss"].get<double>()) + " on " +
              std::to_string(eval_metrics["eval_samples"].get<int64_t>()) + " pairs");
    if (args_.do_train) {
      json row = eval_metrics;
      row["step"] = state_.global_step;
      metrics_.write(row);
      state_.log_history.push_back(row);
    }
  }

  if (dist::is_main_process()) {
    write_final_outputs(args_, model_, processor_dir_, state_, train_metrics, eval_metrics);
    log::info("saved the model, processor files and results to " + args_.output_dir.string());
  }
  if (dist::is_distributed()) {
    dist::barrier();
    dist::shutdown();
  }
  return status;
}

}  // namespace

std::optional<fs::path> find_resume_checkpoint(const TrainingArguments& args) {
  // An explicit --resume_from_checkpoint.
  const std::string& resume = args.resume_from_checkpoint;
  if (!resume.empty() && resume != "false" && resume != "False") {
    if (resume == "true" || resume == "True") {
      auto latest = latest_checkpoint(args.output_dir);
      if (!latest) {
        throw Error("--resume_from_checkpoint true: no checkpoint-* folder in " + args.output_dir.string());
      }
      return latest;
    }
    if (!fs::exists(fs::path(resume) / "trainer_state.json")) {
      throw Error("--resume_from_checkpoint " + resume + " is not a checkpoint folder (no trainer_state.json)");
    }
    return fs::path(resume);
  }

  // Otherwise: an existing output_dir resumes from its latest checkpoint, unless overwritten.
  if (args.overwrite_output_dir || !fs::is_directory(args.output_dir)) return std::nullopt;
  if (auto latest = latest_checkpoint(args.output_dir)) {
    log::info("output_dir " + args.output_dir.string() + " contains checkpoints; resuming from " + latest->string() +
              " (pass --overwrite_output_dir to train from the start)");
    return latest;
  }
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(args.output_dir)) entries.push_back(entry.path().filename());
  if (!entries.empty()) {
    std::sort(entries.begin(), entries.end());
    if (entries.size() > 5) entries.resize(5);
    throw Error("--output_dir " + args.output_dir.string() + " already exists and contains other files (" +
                join_paths(entries) + ") but no checkpoint; pass --overwrite_output_dir to write into it anyway, "
                "or choose another folder");
  }
  return std::nullopt;
}

int run_training(const TrainingArguments& args) {
  TrainingRun run(args);
  return run.run();
}

}  // namespace dualclip::train
