// Forward passes against the outputs of HF transformers 4.40.2 stored in the golden folder:
// every dual encoder case (single-file and sharded checkpoints), the pretrained towers on
// their own, and a full CLIP model with its text tower.
#include <regex>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/models/towers.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using dualclip::io::TensorMap;
using namespace dualclip::models;

// Tolerances suggested by the golden data for a float32 port: float32 vs float64 moves
// logits, embeddings, pooled outputs and the loss by a few 1e-6 and hidden states by ~1e-4
// on values up to ~40. The CLIP text case has logits scaled by e^3 and needs 5e-5.
struct Tolerance {
  double atol, rtol;
};

Tolerance tolerance_for(const std::string& output, bool large_logits) {
  if (output.find("hidden_state") != std::string::npos) return {2e-4, 1e-5};
  return {large_logits ? 5e-5 : 1e-5, 1e-5};
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, Tolerance tolerance, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << " was not computed";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  torch::Tensor a = actual.detach().to(torch::kFloat64);
  torch::Tensor e = expected.to(torch::kFloat64);
  torch::Tensor excess = (a - e).abs() - (tolerance.atol + tolerance.rtol * e.abs());
  double worst = excess.numel() ? excess.max().item<double>() : -1.0;
  double max_diff = excess.numel() ? (a - e).abs().max().item<double>() : 0.0;
  EXPECT_LE(worst, 0.0) << what << ": max abs diff " << max_diff << " exceeds atol " << tolerance.atol << " + rtol "
                        << tolerance.rtol;
}

torch::Tensor optional_input(const TensorMap& tensors, const std::string& name) {
  auto found = tensors.find(name);
  return found == tensors.end() ? torch::Tensor() : found->second;
}

// Runs `model` on one case's inputs and compares every stored output.
void check_case(DualEncoder& model, const TensorMap& data, const std::string& prefix, bool large_logits,
                const std::string& label) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& pixel_values = data.at(prefix + "input.pixel_values");
  const torch::Tensor& input_ids = data.at(prefix + "input.input_ids");
  const torch::Tensor& attention_mask = data.at(prefix + "input.attention_mask");
  torch::Tensor token_type_ids = optional_input(data, prefix + "input.token_type_ids");
  bool return_loss = data.count(prefix + "output.loss") > 0;
  bool hidden_states = data.count(prefix + "output.vision_hidden_states.0") > 0 ||
                       data.count(prefix + "output.text_hidden_states.0") > 0;

  DualEncoderOutput out = model->forward(pixel_values, input_ids, attention_mask, token_type_ids, return_loss, hidden_states);
  std::map<std::string, torch::Tensor> computed = {
      {"logits_per_image", out.logits_per_image},
      {"logits_per_text", out.logits_per_text},
      {"image_embeds", out.image_embeds},
      {"text_embeds", out.text_embeds},
      {"loss", out.loss},
      {"vision_last_hidden_state", out.vision_model_output.last_hidden_state},
      {"vision_pooler_output", out.vision_model_output.pooler_output},
      {"text_last_hidden_state", out.text_model_output.last_hidden_state},
      {"text_pooler_output", out.text_model_output.pooler_output},
      {"image_features", model->get_image_features(pixel_values)},
      {"text_features", model->get_text_features(input_ids, attention_mask, token_type_ids)},
  };
  for (size_t i = 0; i < out.vision_model_output.hidden_states.size(); ++i) {
    computed["vision_hidden_states." + std::to_string(i)] = out.vision_model_output.hidden_states[i];
  }
  for (size_t i = 0; i < out.text_model_output.hidden_states.size(); ++i) {
    computed["text_hidden_states." + std::to_string(i)] = out.text_model_output.hidden_states[i];
  }

  int compared = 0;
  const std::string output_prefix = prefix + "output.";
  for (const auto& [name, expected] : data) {
    if (name.compare(0, output_prefix.size(), output_prefix) != 0) continue;
    std::string output = name.substr(output_prefix.size());
    auto found = computed.find(output);
    ASSERT_NE(found, computed.end()) << label << ": no computed value for " << output;
    expect_close(found->second, expected, tolerance_for(output, large_logits), label + " " + output);
    ++compared;
  }
  EXPECT_GE(compared, 7) << label;
}

std::vector<fs::path> dual_cases() {
  std::vector<fs::path> cases;
  for (const auto& item : fs::directory_iterator(dualclip::testing::golden_dir() / "forward")) {
    std::string name = item.path().filename().string();
    if (std::regex_match(name, std::regex(R"((clip-roberta|vit-bert)__.*\.safetensors)"))) cases.push_back(item.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(ModelsGolden, DualEncoderForwardCases) {
  DUALCLIP_REQUIRE_GOLDEN();
  const fs::path golden = dualclip::testing::golden_dir();
  std::vector<fs::path> cases = dual_cases();
  ASSERT_EQ(cases.size(), 7u);

  std::map<std::string, DualEncoder> models;
  for (const char* dir : {"clip-roberta", "clip-roberta-sharded", "vit-bert"}) {
    models.emplace(dir, load_dual_encoder((golden / "dual" / dir).string()));
  }
  for (const fs::path& path : cases) {
    std::string stem = path.stem().string();
    std::string dual = stem.substr(0, stem.find("__"));
    TensorMap data = dualclip::io::read_safetensors(path).tensors;
    check_case(models.at(dual), data, "", false, stem);
    if (dual == "clip-roberta") check_case(models.at("clip-roberta-sharded"), data, "", false, stem + " (sharded)");
  }
}

TEST(ModelsGolden, ClipTextTinyCase) {
  DUALCLIP_REQUIRE_GOLDEN();
  const fs::path golden = dualclip::testing::golden_dir();
  DualEncoder model = load_dual_encoder((golden / "pretrained" / "clip-text-tiny").string());
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "clip-text-tiny__texts.safetensors").tensors;
  check_case(model, data, "", /*large_logits=*/true, "clip-text-tiny__texts");
}

TEST(ModelsGolden, PretrainedClipAndRoberta) {
  DUALCLIP_REQUIRE_GOLDEN();
  torch::NoGradGuard no_grad;
  const fs::path golden = dualclip::testing::golden_dir();
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "pretrained_towers.safetensors").tensors;

  DualEncoder clip = load_dual_encoder((golden / "pretrained" / "clip-tiny").string());
  check_case(clip, data, "clip.", false, "pretrained clip-tiny");

  // RobertaForMaskedLM's last hidden state; its MLM logits need the lm_head, which a
  // text tower does not have.
  auto roberta = load_text_tower((golden / "pretrained" / "roberta-tiny").string());
  TowerOutput out = roberta->forward(data.at("roberta.input.input_ids"), data.at("roberta.input.attention_mask"));
  expect_close(out.last_hidden_state, data.at("roberta.output.last_hidden_state"), {2e-4, 1e-5}, "roberta last_hidden_state");
}

TEST(ModelsGolden, PretrainedVitAndBert) {
  DUALCLIP_REQUIRE_GOLDEN();
  torch::NoGradGuard no_grad;
  const fs::path golden = dualclip::testing::golden_dir();
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "pretrained_towers_vit_bert.safetensors").tensors;

  auto vit = load_vision_tower((golden / "pretrained" / "vit-tiny").string());
  TowerOutput vision = vit->forward(data.at("vit.input.pixel_values"), /*output_hidden_states=*/true);
  expect_close(vision.last_hidden_state, data.at("vit.output.last_hidden_state"), {2e-4, 1e-5}, "vit last_hidden_state");
  expect_close(vision.pooler_output, data.at("vit.output.pooler_output"), {1e-5, 1e-5}, "vit pooler_output");
  expect_close(vision.hidden_states.back(), data.at("vit.output.encoder_last_hidden_state_before_layernorm"), {2e-4, 1e-5},
               "vit encoder output before layernorm");

  auto bert = load_text_tower((golden / "pretrained" / "bert-tiny").string());
  TowerOutput text = bert->forward(data.at("bert.input.input_ids"), data.at("bert.input.attention_mask"),
                                   data.at("bert.input.token_type_ids"));
  expect_close(text.last_hidden_state, data.at("bert.output.last_hidden_state"), {2e-4, 1e-5}, "bert last_hidden_state");
}

TEST(ModelsGolden, Bfloat16StaysNearFloat32) {
  DUALCLIP_REQUIRE_GOLDEN();
  torch::NoGradGuard no_grad;
  const fs::path golden = dualclip::testing::golden_dir();
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "clip-roberta__b4_images_captions_maxlen.safetensors").tensors;

  LoadOptions options;
  options.dtype = torch::kBFloat16;
  DualEncoder model = load_dual_encoder((golden / "dual" / "clip-roberta").string(), options);
  EXPECT_EQ(model->logit_scale.scalar_type(), torch::kBFloat16);
  DualEncoderOutput out = model->forward(data.at("input.pixel_values"), data.at("input.input_ids"),
                                         data.at("input.attention_mask"), {}, true);
  EXPECT_EQ(out.image_embeds.scalar_type(), torch::kBFloat16);

  // bfloat16 keeps 8 bits of mantissa: embeddings of norm 1 move by a few 1e-3.
  expect_close(out.image_embeds, data.at("output.image_embeds"), {3e-2, 0}, "bfloat16 image_embeds");
  expect_close(out.text_embeds, data.at("output.text_embeds"), {3e-2, 0}, "bfloat16 text_embeds");
  expect_close(out.loss, data.at("output.loss"), {5e-2, 0}, "bfloat16 loss");
}

}  // namespace
