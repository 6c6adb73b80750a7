// Which trainable parameters get weight decay.
//   hf (Hugging Face Trainer): every parameter except biases (name contains "bias") and the
//     parameters of LayerNorm modules, so logit_scale, embeddings and projections decay.
//   open_clip: no decay for any parameter with fewer than two dimensions (biases, norms,
//     logit_scale, class_embedding).
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "dualclip/train/optimizer.h"

namespace dualclip::train {

enum class DecayRule { HuggingFace, OpenClip };

// Parses "hf" or "open_clip"; throws dualclip::Error naming --weight_decay_rule.
DecayRule parse_decay_rule(const std::string& name);

// Two groups in the model's parameter order: [0] decayed with `weight_decay`, [1] not decayed.
// Parameters with requires_grad false (a frozen tower) are left out.
std::vector<ParameterGroup> make_parameter_groups(torch::nn::Module& model, double weight_decay, DecayRule rule);

}  // namespace dualclip::train
