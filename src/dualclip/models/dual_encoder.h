// The dual encoder as Hugging Face's VisionTextDualEncoderModel (and CLIPModel) defines it:
// each tower's pooled output, bias-free visual_projection and text_projection to
// projection_dim, L2 normalisation, and a learnable logit_scale:
//   logits_per_text = exp(logit_scale) * text_embeds @ image_embeds.T
//   logits_per_image = logits_per_text.T
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace dualclip::models {

struct TowerOutput {
  torch::Tensor last_hidden_state;        // [batch, tokens, hidden]
  torch::Tensor pooler_output;            // [batch, hidden]
  std::vector<torch::Tensor> hidden_states;  // embeddings output, then each layer (when requested)
};

class VisionTower : public torch::nn::Module {
 public:
  virtual TowerOutput forward(const torch::Tensor& pixel_values, bool output_hidden_states = false) = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t image_size() const = 0;
  virtual std::string model_type() const = 0;
  // Recompute each layer's activations in the backward pass instead of storing them.
  virtual void set_gradient_checkpointing(bool enabled) = 0;
  // The tower's config.json fields, with HF's defaults filled in.
  const nlohmann::json& config() const { return config_; }

 protected:
  nlohmann::json config_;
};

class TextTower : public torch::nn::Module {
 public:
  // token_type_ids may be undefined (zeros are used where the tower has token types).
  virtual TowerOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const torch::Tensor& token_type_ids = {}, bool output_hidden_states = false) = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t max_position_embeddings() const = 0;
  virtual std::string model_type() const = 0;
  virtual void set_gradient_checkpointing(bool enabled) = 0;
  const nlohmann::json& config() const { return config_; }

 protected:
  nlohmann::json config_;
};

struct DualEncoderOutput {
  torch::Tensor logits_per_image;  // [images, texts]
  torch::Tensor logits_per_text;   // [texts, images]
  torch::Tensor image_embeds;      // normalised, [images, projection_dim]
  torch::Tensor text_embeds;       // normalised, [texts, projection_dim]
  torch::Tensor loss;              // undefined unless requested
  TowerOutput vision_model_output;
  TowerOutput text_model_output;
};

class DualEncoderImpl : public torch::nn::Module {
 public:
  // Builds the model (random weights) from a "vision-text-dual-encoder" or "clip" config.json.
  explicit DualEncoderImpl(const nlohmann::json& config);

  // Projections before normalisation, as HF's get_image_features / get_text_features.
  torch::Tensor get_image_features(const torch::Tensor& pixel_values);
  torch::Tensor get_text_features(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                  const torch::Tensor& token_type_ids = {});

  DualEncoderOutput forward(const torch::Tensor& pixel_values, const torch::Tensor& input_ids,
                            const torch::Tensor& attention_mask, const torch::Tensor& token_type_ids = {},
                            bool return_loss = false, bool output_hidden_states = false);

  // Sets every dropout probability in both towers (training with --dropout).
  void set_dropout(double p);

  // Turns gradient checkpointing on or off in both towers.
  void set_gradient_checkpointing(bool enabled);

  const nlohmann::json& config() const { return config_; }
  int64_t projection_dim() const { return projection_dim_; }

  std::shared_ptr<VisionTower> vision_model;
  std::shared_ptr<TextTower> text_model;
  torch::nn::Linear visual_projection{nullptr};
  torch::nn::Linear text_projection{nullptr};
  torch::Tensor logit_scale;  // 0-dim parameter

 private:
  nlohmann::json config_;
  int64_t projection_dim_ = 512;
};
TORCH_MODULE(DualEncoder);

// Symmetric cross-entropy over the in-batch similarity matrix (logits_per_text is
// [N texts, N images], targets arange(N)), as HF's clip_loss.
torch::Tensor contrastive_loss(const torch::Tensor& logits_per_text);

struct LoadOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
};

// Loads a dual encoder from a directory or hub id: a "vision-text-dual-encoder" directory
// (from `dualclip create`, `train` or HF's save_pretrained) or a full CLIP checkpoint.
DualEncoder load_dual_encoder(const std::string& name_or_path, const LoadOptions& options = {});

// Writes config.json and model.safetensors in HF's layout (atomically, file by file).
void save_dual_encoder(DualEncoder& model, const std::filesystem::path& output_dir);

// The equivalent of VisionTextDualEncoderModel.from_vision_text_pretrained: loads the two
// towers, adds new projections and logit_scale initialised as HF does (seeded by `seed`),
// and writes the dual encoder with both towers' processor files to `output_dir`.
struct CreateOptions {
  int64_t projection_dim = 512;
  double logit_scale_init_value = 2.6592;
  uint64_t seed = 42;
};
DualEncoder create_dual_encoder(const std::string& vision_dir, const std::string& text_dir,
                                const std::filesystem::path& output_dir, const CreateOptions& options = {});

// Writes a single tower directory (config.json and model.safetensors, keys as HF's base
// model saves them) with weights drawn as HF initialises them, seeded by `seed`. `config` is
// a tower config.json ("clip_vision_model", "vit", "bert", "roberta", "xlm-roberta",
// "clip_text_model", or "clip" for a full CLIP model). Used to make small towers from
// configs alone, which `create_dual_encoder` then joins.
void save_random_tower(const nlohmann::json& config, const std::filesystem::path& output_dir, uint64_t seed = 42);

// The number of scalar parameters of `module` (all of them, trainable or not).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace dualclip::models
