// The legacy `pytorch_model.bin` format of torch.save: a zip archive (entries stored, not
// compressed) holding `<archive>/data.pkl`, a pickle of the state dict whose tensors point
// through persistent ids at raw storages `<archive>/data/<key>`. Only what a state dict
// needs is accepted: dicts, tuples, numbers, strings, collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the torch.*Storage types. Any
// other global (the way a pickle runs arbitrary code) is rejected, naming it.
#pragma once

#include <filesystem>

#include "dualclip/io/safetensors.h"

namespace dualclip::io {

// Reads the tensors of a torch.save'd state dict. Tensors that shared a storage in the file
// (tied weights) share it here too. Throws dualclip::Error naming the file on anything else.
TensorMap read_torch_bin(const std::filesystem::path& path);

}  // namespace dualclip::io
