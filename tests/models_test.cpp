// The dual encoder's construction, creation from towers, saving and loading, bad input and
// gradient checkpointing, on the golden checkpoints and on files written here.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/models/config.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/models/towers.h"
#include "expect_error.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using dualclip::Error;
using dualclip::io::TensorMap;
using dualclip::testing::TempDir;
using dualclip::testing::error_of;
using nlohmann::json;
using namespace dualclip::models;

TensorMap parameters_of(const torch::nn::Module& module) {
  TensorMap tensors;
  for (const auto& item : module.named_parameters()) tensors[item.key()] = item.value().detach().clone();
  return tensors;
}

// Runs create from inside the golden folder, so the towers' _name_or_path are the same
// relative paths HF recorded.
DualEncoder create_in_golden(const std::string& vision, const std::string& text, const fs::path& output,
                             const CreateOptions& options) {
  fs::path previous = fs::current_path();
  fs::current_path(dualclip::testing::golden_dir());
  try {
    DualEncoder model = create_dual_encoder(vision, text, output, options);
    fs::current_path(previous);
    return model;
  } catch (...) {
    fs::current_path(previous);
    throw;
  }
}

struct CreateCase {
  const char* vision;
  const char* text;
  const char* golden_dual;
  int64_t projection_dim;
  double logit_scale;
  double pooler_std;  // the text tower's initializer_range
};

// Checks a created directory against HF's: identical tower tensors, keys, shapes and config;
// new tensors drawn from HF's initialisation.
void check_create(const CreateCase& c) {
  TempDir dir;
  CreateOptions options;
  options.projection_dim = c.projection_dim;
  options.logit_scale_init_value = c.logit_scale;
  options.seed = 7;
  DualEncoder model = create_in_golden(c.vision, c.text, dir.path(), options);

  fs::path golden = dualclip::testing::golden_dir() / "dual" / c.golden_dual;
  TensorMap expected = dualclip::io::read_safetensors(golden / "model.safetensors").tensors;
  TensorMap created = dualclip::io::read_safetensors(dir.path() / "model.safetensors").tensors;

  // Step 1: the same keys and shapes; tower tensors bit-identical.
  ASSERT_EQ(created.size(), expected.size());
  const std::set<std::string> fresh = {"logit_scale", "text_model.pooler.dense.bias", "text_model.pooler.dense.weight",
                                       "text_projection.weight", "visual_projection.weight"};
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(created.count(name)) << name;
    EXPECT_EQ(created[name].sizes(), tensor.sizes()) << name;
    EXPECT_EQ(created[name].scalar_type(), tensor.scalar_type()) << name;
    if (!fresh.count(name)) {
      EXPECT_TRUE(torch::equal(created[name], tensor)) << name;
    }
  }

  // Step 2: new tensors as HF draws them. Projections: U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // whose std is bound/sqrt(3). The new pooler: N(0, initializer_range), bias 0.
  for (const char* name : {"visual_projection.weight", "text_projection.weight"}) {
    const torch::Tensor& weight = created[name];
    double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
    EXPECT_LE(weight.abs().max().item<double>(), bound) << name;
    EXPECT_NEAR(weight.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound) << name;
    EXPECT_NEAR(weight.mean().item<double>(), 0.0, 0.05 * bound) << name;
  }
  const torch::Tensor& pooler = created["text_model.pooler.dense.weight"];
  EXPECT_NEAR(pooler.std().item<double>(), c.pooler_std, 0.1 * c.pooler_std);
  EXPECT_NEAR(pooler.mean().item<double>(), 0.0, 0.1 * c.pooler_std);
  EXPECT_TRUE(torch::equal(created["text_model.pooler.dense.bias"], torch::zeros_like(created["text_model.pooler.dense.bias"])));
  EXPECT_EQ(created["logit_scale"].item<float>(), static_cast<float>(c.logit_scale));
  EXPECT_EQ(created["logit_scale"].dim(), 0);

  // Step 3: config.json field by field.
  json expected_config = dualclip::io::read_json(golden / "config.json");
  json created_config = dualclip::io::read_json(dir.path() / "config.json");
  for (const auto& [key, value] : expected_config.items()) {
    if (value.is_object()) {
      for (const auto& [field, field_value] : value.items()) {
        EXPECT_EQ(created_config[key][field], field_value) << key << "." << field;
      }
      EXPECT_EQ(created_config[key].size(), value.size()) << key;
    } else {
      EXPECT_EQ(created_config[key], value) << key;
    }
  }
  EXPECT_EQ(created_config.size(), expected_config.size());

  // Step 4: the processor files HF's processor wrote.
  for (const auto& item : fs::directory_iterator(golden)) {
    std::string name = item.path().filename().string();
    if (name == "config.json" || name == "model.safetensors") continue;
    ASSERT_TRUE(fs::exists(dir.path() / name)) << name;
    if (item.path().extension() == ".json") {
      EXPECT_EQ(dualclip::io::read_json(dir.path() / name), dualclip::io::read_json(item.path())) << name;
    } else {
      EXPECT_EQ(dualclip::read_file(dir.path() / name), dualclip::read_file(item.path())) << name;
    }
  }

  // Step 5: loading the directory back gives bit-identical tensors.
  DualEncoder reloaded = load_dual_encoder(dir.path().string());
  TensorMap in_memory = parameters_of(*model);
  TensorMap from_disk = parameters_of(*reloaded);
  ASSERT_EQ(in_memory.size(), from_disk.size());
  for (const auto& [name, tensor] : in_memory) EXPECT_TRUE(torch::equal(tensor, from_disk.at(name))) << name;
}

TEST(ModelsCreate, ClipRobertaMatchesHf) {
  DUALCLIP_REQUIRE_GOLDEN();
  check_create({"pretrained/clip-tiny", "pretrained/roberta-tiny", "clip-roberta", 512, 2.6592, 0.2});
}

TEST(ModelsCreate, VitBertMatchesHf) {
  DUALCLIP_REQUIRE_GOLDEN();
  check_create({"pretrained/vit-tiny", "pretrained/bert-tiny", "vit-bert", 24, 2.3, 0.2});
}

TEST(ModelsCreate, SameSeedGivesSameProjections) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir first, second;
  CreateOptions options;
  options.seed = 11;
  DualEncoder a = create_in_golden("pretrained/vit-tiny", "pretrained/bert-tiny", first.path(), options);
  DualEncoder b = create_in_golden("pretrained/vit-tiny", "pretrained/bert-tiny", second.path(), options);
  EXPECT_TRUE(torch::equal(a->visual_projection->weight, b->visual_projection->weight));
  options.seed = 12;
  DualEncoder c = create_in_golden("pretrained/vit-tiny", "pretrained/bert-tiny", second.path(), options);
  EXPECT_FALSE(torch::equal(a->visual_projection->weight, c->visual_projection->weight));
}

TEST(ModelsCreate, BinTextTowerEqualsSafetensorsTwin) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir from_bin, from_safetensors;
  CreateOptions options;
  DualEncoder a = create_in_golden("pretrained/clip-tiny", "pretrained/roberta-tiny-bin", from_bin.path(), options);
  DualEncoder b = create_in_golden("pretrained/clip-tiny", "pretrained/roberta-tiny", from_safetensors.path(), options);
  TensorMap first = parameters_of(*a);
  TensorMap second = parameters_of(*b);
  ASSERT_EQ(first.size(), second.size());
  for (const auto& [name, tensor] : first) EXPECT_TRUE(torch::equal(tensor, second.at(name))) << name;
}

TEST(ModelsCreate, RandomTowersJoinAndReload) {
  TempDir dir;
  json vision = {{"model_type", "vit"}, {"hidden_size", 24}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                 {"intermediate_size", 32}, {"image_size", 16}, {"patch_size", 8}};
  json text = {{"model_type", "bert"}, {"hidden_size", 16}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
               {"intermediate_size", 32}, {"vocab_size", 50}, {"max_position_embeddings", 12}};
  save_random_tower(vision, dir.path() / "vision", 1);
  save_random_tower(text, dir.path() / "text", 2);

  CreateOptions options;
  options.projection_dim = 8;
  DualEncoder model = create_dual_encoder((dir.path() / "vision").string(), (dir.path() / "text").string(),
                                          dir.path() / "dual", options);
  DualEncoder reloaded = load_dual_encoder((dir.path() / "dual").string());
  reloaded->eval();
  model->eval();

  torch::NoGradGuard no_grad;
  torch::Tensor pixels = torch::randn({2, 3, 16, 16});
  torch::Tensor ids = torch::randint(0, 50, {2, 7});
  torch::Tensor mask = torch::ones({2, 7}, torch::kLong);
  auto a = model->forward(pixels, ids, mask, {}, true);
  auto b = reloaded->forward(pixels, ids, mask, {}, true);
  EXPECT_TRUE(torch::equal(a.logits_per_text, b.logits_per_text));
  EXPECT_EQ(a.image_embeds.sizes(), (std::vector<int64_t>{2, 8}));

  // A model built from make_dual_encoder_config alone has the same parameters.
  json built = make_dual_encoder_config(vision_tower_config(vision, "vision"), text_tower_config(text, "text"), 8);
  DualEncoder fresh(built);
  EXPECT_EQ(count_parameters(*fresh), count_parameters(*model));
}

TEST(ModelsFullSize, ClipB32RobertaBaseParameterCount) {
  // HF's CLIP ViT-B/32 vision config and roberta-base's config.json.
  json vision = {{"model_type", "clip_vision_model"}, {"hidden_size", 768}, {"intermediate_size", 3072},
                 {"num_hidden_layers", 12}, {"num_attention_heads", 12}, {"image_size", 224}, {"patch_size", 32}};
  json text = {{"model_type", "roberta"}, {"vocab_size", 50265}, {"hidden_size", 768}, {"num_hidden_layers", 12},
               {"num_attention_heads", 12}, {"intermediate_size", 3072}, {"max_position_embeddings", 514},
               {"type_vocab_size", 1}, {"layer_norm_eps", 1e-5}};
  DualEncoder model(make_dual_encoder_config(vision_tower_config(vision, "vision"), text_tower_config(text, "text"), 512));

  // The count from the architecture: weights and biases of every layer.
  const int64_t H = 768, I = 3072, L = 12;
  const int64_t attention = 4 * (H * H + H);
  const int64_t mlp = (H * I + I) + (I * H + H);
  const int64_t clip_layer = attention + mlp + 2 * (2 * H);  // layer_norm1, layer_norm2
  const int64_t grid = 224 / 32;
  const int64_t vision_params = H /*class_embedding*/ + H * 3 * 32 * 32 /*patch conv, no bias*/ +
                                (grid * grid + 1) * H /*positions*/ + 2 * H /*pre_layrnorm*/ + L * clip_layer +
                                2 * H /*post_layernorm*/;
  const int64_t bert_layer = attention + mlp + 2 * (2 * H);  // attention.output.LayerNorm, output.LayerNorm
  const int64_t text_params = 50265 * H + 514 * H + 1 * H + 2 * H /*embeddings + LayerNorm*/ + L * bert_layer +
                              (H * H + H) /*pooler*/;
  const int64_t expected = vision_params + text_params + 2 * H * 512 /*projections*/ + 1 /*logit_scale*/;

  EXPECT_EQ(count_parameters(*model), expected);
  EXPECT_EQ(count_parameters(*model->vision_model), vision_params);
  EXPECT_EQ(count_parameters(*model->text_model), text_params);
  EXPECT_NEAR(static_cast<double>(expected) / 1e6, 212.9, 0.05);
}

TEST(ModelsLoad, KeysAreHfStateDictKeys) {
  DUALCLIP_REQUIRE_GOLDEN();
  DualEncoder model = load_dual_encoder((dualclip::testing::golden_dir() / "dual" / "clip-roberta").string());
  TensorMap parameters = parameters_of(*model);
  for (const char* key : {"vision_model.vision_model.embeddings.patch_embedding.weight",
                          "vision_model.vision_model.pre_layrnorm.weight",
                          "text_model.encoder.layer.0.attention.self.query.weight", "visual_projection.weight",
                          "logit_scale"}) {
    EXPECT_TRUE(parameters.count(key)) << key;
  }
  DualEncoder clip = load_dual_encoder((dualclip::testing::golden_dir() / "pretrained" / "clip-tiny").string());
  EXPECT_TRUE(parameters_of(*clip).count("vision_model.embeddings.class_embedding"));
  EXPECT_TRUE(parameters_of(*clip).count("text_model.embeddings.token_embedding.weight"));
}

TEST(ModelsLoad, HubIdFromCache) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir cache;
  fs::path snapshot = cache.path() / "models--tiny-org--clip-roberta" / "snapshots" / "0123abcd";
  fs::create_directories(snapshot);
  fs::create_directories(snapshot.parent_path().parent_path() / "refs");
  dualclip::write_file_atomic(snapshot.parent_path().parent_path() / "refs" / "main", "0123abcd");
  for (const char* name : {"config.json", "model.safetensors"}) {
    fs::copy_file(dualclip::testing::golden_dir() / "dual" / "clip-roberta" / name, snapshot / name);
  }
  setenv("HF_HUB_CACHE", cache.path().c_str(), 1);
  DualEncoder model = load_dual_encoder("tiny-org/clip-roberta");
  unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(model->projection_dim(), 512);
}

// A copy of the golden clip-roberta directory whose config or weights a test then breaks.
fs::path copy_dual(const TempDir& dir) {
  fs::path copy = dir.path() / "dual";
  fs::create_directories(copy);
  for (const char* name : {"config.json", "model.safetensors"}) {
    fs::copy_file(dualclip::testing::golden_dir() / "dual" / "clip-roberta" / name, copy / name);
    fs::permissions(copy / name, fs::perms::owner_write, fs::perm_options::add);
  }
  return copy;
}

TEST(ModelsBadInput, UnknownModelType) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path copy = copy_dual(dir);
  json config = dualclip::io::read_json(copy / "config.json");
  config["text_config"]["model_type"] = "gpt2";
  dualclip::io::write_json(copy / "config.json", config);
  std::string message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("gpt2"), std::string::npos) << message;
  EXPECT_NE(message.find("roberta"), std::string::npos) << message;

  config["model_type"] = "llama";
  dualclip::io::write_json(copy / "config.json", config);
  message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("llama"), std::string::npos) << message;
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
}

TEST(ModelsBadInput, ConfigNotJsonOrMissingField) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path copy = copy_dual(dir);
  json config = dualclip::io::read_json(copy / "config.json");

  dualclip::write_file_atomic(copy / "config.json", "{\"model_type\": ");
  std::string message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;

  json no_text = config;
  no_text.erase("text_config");
  dualclip::io::write_json(copy / "config.json", no_text);
  message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("text_config"), std::string::npos) << message;

  json no_type = config;
  no_type.erase("model_type");
  dualclip::io::write_json(copy / "config.json", no_type);
  message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("model_type"), std::string::npos) << message;

  json bad_size = config;
  bad_size["vision_config"]["hidden_size"] = "large";
  dualclip::io::write_json(copy / "config.json", bad_size);
  message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("hidden_size"), std::string::npos) << message;
}

TEST(ModelsBadInput, MissingWeight) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path copy = copy_dual(dir);
  TensorMap weights = dualclip::io::read_safetensors(copy / "model.safetensors").tensors;
  weights.erase("text_model.encoder.layer.1.output.dense.weight");
  weights["text_model.embeddings.position_ids"] = torch::arange(34).unsqueeze(0);  // an old buffer: ignored
  dualclip::io::write_safetensors(copy / "model.safetensors", weights);
  std::string message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("text_model.encoder.layer.1.output.dense.weight"), std::string::npos) << message;
  EXPECT_NE(message.find(copy.string()), std::string::npos) << message;
}

TEST(ModelsBadInput, ShapeOrDtypeDisagreesWithConfig) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path copy = copy_dual(dir);
  json config = dualclip::io::read_json(copy / "config.json");
  config["projection_dim"] = 256;
  dualclip::io::write_json(copy / "config.json", config);
  std::string message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("visual_projection.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("shape"), std::string::npos) << message;

  config["projection_dim"] = 512;
  dualclip::io::write_json(copy / "config.json", config);
  TensorMap weights = dualclip::io::read_safetensors(copy / "model.safetensors").tensors;
  weights["logit_scale"] = torch::tensor(3, torch::kInt64).reshape({});
  dualclip::io::write_safetensors(copy / "model.safetensors", weights);
  message = error_of([&] { load_dual_encoder(copy.string()); });
  EXPECT_NE(message.find("logit_scale"), std::string::npos) << message;
  EXPECT_NE(message.find("dtype"), std::string::npos) << message;
}

TEST(ModelsBadInput, SingleTowerIsNotADualEncoder) {
  DUALCLIP_REQUIRE_GOLDEN();
  std::string message = error_of([&] { load_dual_encoder((dualclip::testing::golden_dir() / "pretrained" / "roberta-tiny").string()); });
  EXPECT_NE(message.find("dualclip create"), std::string::npos) << message;
}

TEST(ModelsBadInput, ContrastiveLossNeedsSquareLogits) {
  std::string message = error_of([&] { contrastive_loss(torch::zeros({2, 3})); });
  EXPECT_NE(message.find("as many texts as images"), std::string::npos) << message;
}

// True when the autograd graph behind `output` has a node whose name contains `part`.
bool graph_contains(const torch::Tensor& output, const std::string& part) {
  std::vector<torch::autograd::Node*> pending = {output.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!pending.empty()) {
    torch::autograd::Node* node = pending.back();
    pending.pop_back();
    if (!node || !seen.insert(node).second) continue;
    if (node->name().find(part) != std::string::npos) return true;
    for (const auto& edge : node->next_edges()) pending.push_back(edge.function.get());
  }
  return false;
}

// Trains one step with and without checkpointing from the same weights and seed; with
// dropout active, identical gradients show the recomputation replays the same masks.
TEST(ModelsTraining, GradientCheckpointingGivesSameGradients) {
  DUALCLIP_REQUIRE_GOLDEN();
  const fs::path golden = dualclip::testing::golden_dir();
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "clip-roberta__b4_images_captions_maxlen.safetensors").tensors;

  auto gradients = [&](bool checkpointing) {
    DualEncoder model = load_dual_encoder((golden / "dual" / "clip-roberta").string());
    model->train();
    model->set_dropout(0.2);
    model->set_gradient_checkpointing(checkpointing);
    torch::manual_seed(5);
    auto out = model->forward(data.at("input.pixel_values"), data.at("input.input_ids"), data.at("input.attention_mask"), {}, true);
    EXPECT_EQ(graph_contains(out.loss, "CheckpointedLayer"), checkpointing);
    out.loss.backward();
    TensorMap grads;
    for (const auto& item : model->named_parameters()) {
      if (item.value().grad().defined()) grads[item.key()] = item.value().grad().clone();
    }
    return std::make_pair(out.loss.item<double>(), grads);
  };

  auto [loss_plain, grads_plain] = gradients(false);
  auto [loss_checkpointed, grads_checkpointed] = gradients(true);
  EXPECT_EQ(loss_plain, loss_checkpointed);
  ASSERT_EQ(grads_plain.size(), grads_checkpointed.size());
  for (const auto& [name, grad] : grads_plain) {
    ASSERT_TRUE(grads_checkpointed.count(name)) << name;
    EXPECT_TRUE(torch::allclose(grad, grads_checkpointed[name], 1e-5, 1e-7)) << name;
  }
}

TEST(ModelsTraining, SetDropoutChangesTrainOutputs) {
  DUALCLIP_REQUIRE_GOLDEN();
  const fs::path golden = dualclip::testing::golden_dir();
  TensorMap data = dualclip::io::read_safetensors(golden / "forward" / "vit-bert__b4_images_captions_maxlen.safetensors").tensors;
  DualEncoder model = load_dual_encoder((golden / "dual" / "vit-bert").string());
  torch::NoGradGuard no_grad;
  model->train();
  model->set_dropout(0.0);
  auto plain = model->forward(data.at("input.pixel_values"), data.at("input.input_ids"), data.at("input.attention_mask"));
  EXPECT_TRUE(torch::allclose(plain.logits_per_image, data.at("output.logits_per_image"), 1e-5, 1e-5));
  model->set_dropout(0.5);
  auto dropped = model->forward(data.at("input.pixel_values"), data.at("input.input_ids"), data.at("input.attention_mask"));
  EXPECT_FALSE(torch::allclose(plain.logits_per_image, dropped.logits_per_image, 1e-3, 1e-3));
}

}  // namespace
