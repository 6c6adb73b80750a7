// The training step against Hugging Face's Trainer (transformers 4.40.2, torch 1.13): the
// golden cases store each step's batch, the loss, the gradient norm, the gradients before
// clipping, the parameters after each AdamW step and the moments, on dual/clip-roberta.
#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/train/optimizer.h"
#include "dualclip/train/parameter_groups.h"
#include "dualclip/train/schedule.h"
#include "dualclip/train/step.h"
#include "test_support.h"

using namespace dualclip;
using nlohmann::json;

namespace {

std::map<std::string, torch::Tensor> named_parameters_of(models::DualEncoder& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters()) out[item.key()] = item.value();
  return out;
}

// Parameters after a step agree within 1e-6 for at least 99.5 % of the elements and within
// 2 * lr for all. Elements whose gradient is below ~eps take AdamW steps of up to lr that
// depend on the last bits of that gradient, so two correct float32 runs differ there.
void expect_params_close(const std::map<std::string, torch::Tensor>& params, const io::TensorMap& stored,
                         const std::string& prefix, double lr) {
  int64_t total = 0;
  int64_t close = 0;
  for (const auto& [name, param] : params) {
    auto it = stored.find(prefix + name);
    ASSERT_NE(it, stored.end()) << prefix + name;
    auto diff = (param.detach() - it->second).abs();
    total += diff.numel();
    close += (diff <= 1e-6).sum().item<int64_t>();
    EXPECT_LE(diff.max().item<double>(), 2 * lr + 1e-6) << name;
  }
  EXPECT_GE(static_cast<double>(close), 0.995 * static_cast<double>(total));
}

void run_case(const std::string& case_name) {
  auto root = dualclip::testing::golden_dir();
  json spec = io::read_json(root / "train" / (case_name + ".json"));
  auto stored = io::read_safetensors(root / "train" / (case_name + ".safetensors")).tensors;
  const json& hp = spec["hyperparameters"];

  // The model as the Trainer ran it: float32, dropout 0, training mode.
  auto model = models::load_dual_encoder((root / spec["dual_dir"].get<std::string>()).string());
  model->set_dropout(0.0);
  model->train();

  // The Trainer's parameter groups.
  auto groups = train::make_parameter_groups(*model, hp["weight_decay"].get<double>(), train::DecayRule::HuggingFace);
  std::set<std::string> decay, no_decay;
  for (const auto& p : groups[0].parameters) decay.insert(p.name);
  for (const auto& p : groups[1].parameters) no_decay.insert(p.name);
  EXPECT_EQ(decay, spec["decay_parameters"].get<std::set<std::string>>());
  EXPECT_EQ(no_decay, spec["no_decay_parameters"].get<std::set<std::string>>());

  train::AdamW optimizer(std::move(groups), {hp["betas"][0].get<double>(), hp["betas"][1].get<double>(),
                                             hp["eps"].get<double>()});
  train::Schedule schedule{train::parse_schedule_kind(hp["scheduler"].get<std::string>()), hp["lr"].get<double>(),
                           hp["num_warmup_steps"].get<int64_t>(), hp["num_training_steps"].get<int64_t>()};
  train::StepOptions options;
  options.max_grad_norm = hp["max_grad_norm"].get<double>();
  options.logit_scale_clamp = false;  // the Trainer does not clamp
  train::StepRunner runner(model, optimizer, options);
  auto params = named_parameters_of(model);

  int64_t steps = hp["steps_run"].get<int64_t>();
  for (int64_t s = 1; s <= steps; ++s) {
    const json& expected = spec["steps"][s - 1];
    const json& tensor_stats = spec["per_step_tensor_stats"][s - 1];
    std::string input = "step" + std::to_string(s) + ".input.";
    text::BatchEncoding text{stored.at(input + "input_ids"), stored.at(input + "attention_mask"), {}};
    double loss = runner.accumulate(stored.at(input + "pixel_values"), text, 1);
    EXPECT_NEAR(loss, expected["loss"].get<double>(), 1e-5) << "step " << s;

    // Gradients before clipping: whole tensors where stored, per-tensor L2 norms every step.
    std::string grad_prefix = "step" + std::to_string(s) + ".grad.";
    for (const auto& [name, param] : params) {
      auto it = stored.find(grad_prefix + name);
      if (it != stored.end()) {
        EXPECT_LE((param.grad() - it->second).abs().max().item<double>(), 1e-5) << "grad of " << name;
      }
      double l2 = tensor_stats["grad"][name]["l2"].get<double>();
      EXPECT_NEAR(param.grad().norm().item<double>(), l2, 1e-5 + 1e-4 * l2) << "grad norm of " << name;
    }

    double lr = schedule.lr_for_step(s);
    EXPECT_NEAR(lr, expected["lr_used"].get<double>(), 1e-5 * hp["lr"].get<double>());
    auto stats = runner.apply(lr, s);
    double norm = expected["grad_norm_before_clip"].get<double>();
    EXPECT_NEAR(stats.grad_norm, norm, 1e-5 * norm) << "step " << s;
    EXPECT_NEAR(stats.clip_coef, expected["clip_coef"].get<double>(), 1e-5) << "step " << s;
    EXPECT_FALSE(stats.skipped);

    // Parameters and moments after the step, by their per-tensor statistics.
    for (const auto& [name, param] : params) {
      double l2 = tensor_stats["param_after"][name]["l2"].get<double>();
      EXPECT_NEAR(param.norm().item<double>(), l2, 1e-6 * std::max(1.0, l2) + 2 * lr) << name << " step " << s;
    }
  }

  // Whole tensors after the last step.
  std::string last = "step" + std::to_string(steps) + ".";
  expect_params_close(params, stored, last + "param_after.", hp["lr"].get<double>());
  auto state = optimizer.state_tensors();
  for (const auto& [name, param] : params) {
    auto m = stored.find(last + "exp_avg." + name);
    if (m == stored.end()) continue;
    EXPECT_LE((state.at("exp_avg." + name) - m->second).abs().max().item<double>(), 1e-7) << name;
    EXPECT_LE((state.at("exp_avg_sq." + name) - stored.at(last + "exp_avg_sq." + name)).abs().max().item<double>(), 1e-9)
        << name;
  }
}

}  // namespace

TEST(TrainGolden, OneStepConstant) {
  DUALCLIP_REQUIRE_GOLDEN();
  run_case("clip-roberta_1step");
}

TEST(TrainGolden, FourStepsLinearWarmup) {
  DUALCLIP_REQUIRE_GOLDEN();
  run_case("clip-roberta_4steps_linear_warmup");
}
