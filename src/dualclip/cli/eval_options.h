// Options shared by the evaluation commands (similarity, zero-shot, retrieval, embed): the
// model, device, dtype, batch size and caption length, and the caption inputs.
#pragma once

#include <string>
#include <vector>

#include "dualclip/cli/args.h"
#include "dualclip/eval/embed.h"
#include "dualclip/eval/inference.h"

namespace dualclip::cli {

// Adds --model, --device, --bf16, --batch_size and --max_seq_length.
void add_model_options(ArgParser& parser);

// Reads the options added by add_model_options and loads the model they name.
eval::InferenceModel load_model_from_options(const ArgParser& parser);
eval::EmbedOptions read_embed_options(const ArgParser& parser, const eval::InferenceModel& loaded);

// Adds --images (files or folders), --texts and --texts_file.
void add_image_text_inputs(ArgParser& parser);

// The captions of --texts followed by those of --texts_file (one per line).
std::vector<std::string> read_texts(const ArgParser& parser);

}  // namespace dualclip::cli
