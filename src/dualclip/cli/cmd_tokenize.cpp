// `dualclip tokenize`: prints the ids, tokens and attention mask a model directory's tokenizer
// gives for some captions, as a table or as JSON.
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/core/log.h"
#include "dualclip/text/tokenizer.h"

namespace dualclip::cli {

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<int64_t> row_of(const torch::Tensor& t, int64_t i) {
  torch::Tensor row = t[i].contiguous();
  return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
}

void print_table(const std::vector<std::string>& texts, const text::Tokenizer& tokenizer,
                 const text::BatchEncoding& batch) {
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int64_t> ids = row_of(batch.input_ids, static_cast<int64_t>(i));
    std::vector<int64_t> mask = row_of(batch.attention_mask, static_cast<int64_t>(i));
    std::vector<int64_t> types;
    if (batch.token_type_ids.defined()) types = row_of(batch.token_type_ids, static_cast<int64_t>(i));

    std::cout << "text " << i << ": " << nlohmann::json(texts[i]).dump() << "\n";
    std::cout << "  " << std::left << std::setw(6) << "pos" << std::setw(8) << "id" << std::setw(6) << "mask";
    if (!types.empty()) std::cout << std::setw(6) << "type";
    std::cout << "token\n";
    for (size_t j = 0; j < ids.size(); ++j) {
      std::cout << "  " << std::setw(6) << j << std::setw(8) << ids[j] << std::setw(6) << mask[j];
      if (!types.empty()) std::cout << std::setw(6) << types[j];
      std::cout << nlohmann::json(tokenizer.id_to_token(ids[j])).dump() << "\n";
    }
  }
}

nlohmann::json to_json(const std::vector<std::string>& texts, const text::Tokenizer& tokenizer,
                       const text::BatchEncoding& batch) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    nlohmann::json row;
    row["text"] = texts[i];
    row["input_ids"] = row_of(batch.input_ids, static_cast<int64_t>(i));
    row["attention_mask"] = row_of(batch.attention_mask, static_cast<int64_t>(i));
    if (batch.token_type_ids.defined()) row["token_type_ids"] = row_of(batch.token_type_ids, static_cast<int64_t>(i));
    nlohmann::json tokens = nlohmann::json::array();
    for (int64_t id : row["input_ids"].get<std::vector<int64_t>>()) tokens.push_back(tokenizer.id_to_token(id));
    row["tokens"] = tokens;
    out.push_back(row);
  }
  return out;
}

}  // namespace

int run_tokenize(const std::vector<std::string>& args) {
  ArgParser parser("tokenize", "Print the token ids, tokens and attention mask a model directory's tokenizer gives for captions.");
  parser.add_option("model", "", "Model or tokenizer directory (vocab.json + merges.txt, vocab.txt or tokenizer.json).", "DIR");
  parser.add_list("texts", "Captions to tokenize.", "TEXT");
  parser.add_option("texts_file", "", "UTF-8 file with one caption per line, tokenized after --texts.", "FILE");
  parser.add_option("max_seq_length", "128", "Maximum tokens per caption including special tokens; longer captions are truncated.", "N");
  parser.add_option("padding", "longest", "Pad to the longest caption (longest) or to --max_seq_length (max_length).", "MODE");
  parser.add_flag("json", "Print JSON (one object per caption) instead of a table.");
  if (!parser.parse(args)) return 0;

  // Step 1: the captions, with invalid UTF-8 repaired and reported.
  std::vector<std::string> texts;
  if (parser.given("texts")) texts = parser.get_list("texts");
  if (auto file = parser.get_optional("texts_file")) {
    for (auto& line : read_lines(*file)) texts.push_back(std::move(line));
  }
  if (texts.empty()) throw Error("tokenize needs captions: give --texts \"a photo of a cat\" ... or --texts_file FILE");
  for (size_t i = 0; i < texts.size(); ++i) {
    if (size_t replaced = text::repair_utf8(texts[i])) {
      log::warn("caption " + std::to_string(i) + ": replaced " + std::to_string(replaced) +
                " invalid UTF-8 sequence(s) with U+FFFD");
    }
  }

  // Step 2: tokenizer and batch settings.
  auto tokenizer = text::load_tokenizer(parser.get("model"));
  int64_t max_length = parser.get_int("max_seq_length");
  if (auto limit = tokenizer->model_max_length(); limit && max_length > *limit) {
    log::info("--max_seq_length " + std::to_string(max_length) + " is above the tokenizer's model_max_length; using " +
              std::to_string(*limit));
    max_length = *limit;
  }
  std::string padding_name = parser.get("padding");
  if (padding_name != "longest" && padding_name != "max_length") {
    throw Error("--padding must be longest or max_length, got \"" + padding_name + "\"");
  }
  text::Padding padding = padding_name == "longest" ? text::Padding::Longest : text::Padding::MaxLength;

  // Step 3: encode and print.
  text::BatchEncoding batch = tokenizer->batch_encode(texts, max_length, padding);
  if (parser.flag("json")) {
    // One caption per line keeps the id lists readable.
    nlohmann::json rows = to_json(texts, *tokenizer, batch);
    std::cout << "[\n";
    for (size_t i = 0; i < rows.size(); ++i) std::cout << "  " << rows[i].dump() << (i + 1 < rows.size() ? ",\n" : "\n");
    std::cout << "]\n";
  } else {
    std::cout << "tokenizer: " << tokenizer->type_name() << " (" << tokenizer->vocab_size() << " ids, pad id "
              << tokenizer->pad_token_id() << ")\n";
    print_table(texts, *tokenizer, batch);
  }
  return 0;
}

}  // namespace dualclip::cli
