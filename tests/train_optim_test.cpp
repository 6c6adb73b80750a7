// Learning-rate schedules, parameter groups and the flat-buffer AdamW, checked against the
// formulas written out independently in double precision.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/train/optimizer.h"
#include "dualclip/train/parameter_groups.h"
#include "dualclip/train/schedule.h"

using namespace dualclip::train;

TEST(Schedule, LinearWarmupStartsAtZero) {
  Schedule schedule{ScheduleKind::Linear, 5e-5, 2, 4};
  EXPECT_DOUBLE_EQ(schedule.lr_for_step(1), 0.0);
  EXPECT_DOUBLE_EQ(schedule.lr_for_step(2), 2.5e-5);
  EXPECT_DOUBLE_EQ(schedule.lr_for_step(3), 5e-5);
  EXPECT_DOUBLE_EQ(schedule.lr_for_step(4), 2.5e-5);
  EXPECT_DOUBLE_EQ(schedule.lr_for_step(5), 0.0);
}

TEST(Schedule, CosineAndConstant) {
  Schedule cosine{ScheduleKind::Cosine, 1.0, 0, 10};
  EXPECT_DOUBLE_EQ(cosine.lr_for_step(1), 1.0);
  EXPECT_NEAR(cosine.lr_for_step(6), 0.5, 1e-12);
  EXPECT_NEAR(cosine.lr_for_step(11), 0.0, 1e-12);
  Schedule constant{ScheduleKind::Constant, 3e-4, 4, 100};
  EXPECT_DOUBLE_EQ(constant.lr_for_step(1), 0.0);
  EXPECT_DOUBLE_EQ(constant.lr_for_step(3), 1.5e-4);
  EXPECT_DOUBLE_EQ(constant.lr_for_step(50), 3e-4);
}

TEST(Schedule, WarmupRatioAndNames) {
  EXPECT_EQ(warmup_steps_for(0, 0.1, 95), 10);
  EXPECT_EQ(warmup_steps_for(7, 0.1, 95), 7);
  EXPECT_EQ(parse_schedule_kind("constant_with_warmup"), ScheduleKind::Constant);
  EXPECT_THROW(parse_schedule_kind("polynomial"), dualclip::Error);
}

namespace {

struct TinyNet : torch::nn::Module {
  TinyNet() {
    proj = register_module("proj", torch::nn::Linear(3, 2));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
    logit_scale = register_parameter("logit_scale", torch::tensor(2.6592));
    table = register_parameter("table", torch::randn({4, 2}));
  }
  torch::nn::Linear proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor logit_scale;
  torch::Tensor table;
};

std::vector<std::string> names_of(const ParameterGroup& group) {
  std::vector<std::string> names;
  for (const auto& p : group.parameters) names.push_back(p.name);
  return names;
}

}  // namespace

TEST(ParameterGroups, HuggingFaceAndOpenClipRules) {
  TinyNet net;
  auto hf = make_parameter_groups(net, 0.1, DecayRule::HuggingFace);
  EXPECT_EQ(names_of(hf[0]), (std::vector<std::string>{"logit_scale", "table", "proj.weight"}));
  EXPECT_EQ(names_of(hf[1]), (std::vector<std::string>{"proj.bias", "norm.weight", "norm.bias"}));
  EXPECT_DOUBLE_EQ(hf[0].weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(hf[1].weight_decay, 0.0);

  auto open_clip = make_parameter_groups(net, 0.1, DecayRule::OpenClip);
  EXPECT_EQ(names_of(open_clip[0]), (std::vector<std::string>{"table", "proj.weight"}));

  net.table.set_requires_grad(false);
  auto frozen = make_parameter_groups(net, 0.1, DecayRule::HuggingFace);
  EXPECT_EQ(names_of(frozen[0]), (std::vector<std::string>{"logit_scale", "proj.weight"}));
}

TEST(AdamW, MatchesFormulaInDouble) {
  torch::manual_seed(0);
  TinyNet net;
  std::vector<torch::Tensor> initial;
  for (auto& p : net.parameters()) initial.push_back(p.detach().clone().to(torch::kFloat64));
  auto groups = make_parameter_groups(net, 0.1, DecayRule::HuggingFace);
  std::vector<double> decay_of;
  for (auto& p : net.named_parameters()) {
    bool decayed = false;
    for (auto& q : groups[0].parameters) decayed = decayed || q.name == p.key();
    decay_of.push_back(decayed ? 0.1 : 0.0);
  }
  AdamW optimizer(groups);

  // Reference moments in double.
  std::vector<torch::Tensor> m, v, ref = initial;
  for (auto& p : initial) {
    m.push_back(torch::zeros_like(p));
    v.push_back(torch::zeros_like(p));
  }
  const double lrs[] = {0.0, 1e-2, 5e-3};
  for (int t = 1; t <= 3; ++t) {
    // Gradients through autograd land in the flat views.
    optimizer.zero_grad();
    auto x = torch::randn({5, 3});
    auto y = net.norm(net.proj(x)) * net.logit_scale.exp() + net.table.sum();
    y.pow(2).sum().backward();

    auto params = net.parameters();
    double lr = lrs[t - 1];
    for (size_t i = 0; i < params.size(); ++i) {
      auto g = params[i].grad().to(torch::kFloat64);
      ref[i] = ref[i] * (1 - lr * decay_of[i]);
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      double step_size = lr / (1 - std::pow(0.9, t));
      auto denom = v[i].sqrt() / std::sqrt(1 - std::pow(0.999, t)) + 1e-8;
      ref[i] = ref[i] - step_size * m[i] / denom;
    }
    optimizer.step(lr);

    for (size_t i = 0; i < params.size(); ++i) {
      double diff = (params[i].to(torch::kFloat64) - ref[i]).abs().max().item<double>();
      EXPECT_LT(diff, 1e-6) << "parameter " << i << " after step " << t;
    }
  }
  EXPECT_EQ(optimizer.step_count(), 3);
}

TEST(AdamW, ClipNormAndStateRoundTrip) {
  torch::manual_seed(1);
  TinyNet net;
  AdamW optimizer(make_parameter_groups(net, 0.0, DecayRule::HuggingFace));
  net.proj->weight.mutable_grad().fill_(3.0);
  net.table.mutable_grad().fill_(4.0);
  double expected = std::sqrt(6 * 9.0 + 8 * 16.0);
  EXPECT_NEAR(optimizer.grad_norm(), expected, 1e-5);
  optimizer.scale_grads(0.5);
  EXPECT_NEAR(optimizer.grad_norm(), expected / 2, 1e-5);
  EXPECT_TRUE(optimizer.grads_finite());
  optimizer.step(1e-3);

  // A second optimizer over a copy of the model continues identically from the saved state.
  auto state = optimizer.state_tensors();
  TinyNet copy;
  {
    torch::NoGradGuard no_grad;
    auto src = net.parameters();
    auto dst = copy.parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  AdamW restored(make_parameter_groups(copy, 0.0, DecayRule::HuggingFace));
  restored.load_state_tensors(state, "test state");
  EXPECT_EQ(restored.step_count(), 1);
  for (auto* o : {&optimizer, &restored}) {
    o->zero_grad();
  }
  net.table.mutable_grad().fill_(-1.0);
  copy.table.mutable_grad().fill_(-1.0);
  optimizer.step(1e-3);
  restored.step(1e-3);
  EXPECT_TRUE(torch::equal(net.table, copy.table));
  EXPECT_TRUE(torch::equal(net.proj->weight, copy.proj->weight));

  // A replaced gradient tensor (as a reducer may assign) is copied back into the buffer.
  optimizer.zero_grad();
  net.table.mutable_grad() = torch::full({4, 2}, std::nan(""));
  EXPECT_FALSE(optimizer.grads_finite());

  // A state without a parameter's moments is rejected.
  auto partial = state;
  partial.erase("exp_avg.table");
  EXPECT_THROW(restored.load_state_tensors(partial, "test state"), dualclip::Error);
}

TEST(AdamW, FusedStepMatchesSeparateCalls) {
  // Two identical parameter sets; one takes scale_grads + step + zero_grad, the other the fused
  // step(lr, grad_scale, zero_grads). Large enough to span several parallel chunks and a tail.
  torch::manual_seed(2);
  const int64_t size = (1 << 16) + 13;
  auto initial = torch::randn({size});
  auto separate = initial.clone().requires_grad_(true);
  auto fused = initial.clone().requires_grad_(true);
  AdamW separate_optimizer({ParameterGroup{0.1, {NamedParameter{"w", separate}}}});
  AdamW fused_optimizer({ParameterGroup{0.1, {NamedParameter{"w", fused}}}});

  for (int step = 1; step <= 3; ++step) {
    auto grad = torch::randn({size}) * 10;
    separate.mutable_grad().copy_(grad);
    fused.mutable_grad().copy_(grad);
    const double clip_coef = step == 2 ? 1.0 : 0.37;

    separate_optimizer.scale_grads(clip_coef);
    separate_optimizer.step(1e-3);
    separate_optimizer.zero_grad();
    fused_optimizer.step(1e-3, clip_coef, true);

    EXPECT_TRUE(torch::equal(separate, fused)) << "parameters differ after step " << step;
    EXPECT_EQ(fused.grad().abs().max().item<float>(), 0.0f) << "gradient not zeroed after step " << step;
  }
  auto separate_state = separate_optimizer.state_tensors();
  auto fused_state = fused_optimizer.state_tensors();
  EXPECT_TRUE(torch::equal(separate_state["exp_avg.w"], fused_state["exp_avg.w"]));
  EXPECT_TRUE(torch::equal(separate_state["exp_avg_sq.w"], fused_state["exp_avg_sq.w"]));
}
