// Captions per second of the RoBERTa tokenizer on one thread, over the full GPT-2 vocabulary in
// RoBERTa layout (50,262 ids, as RobertaTokenizer.save_pretrained writes it). The captions are COCO-like sentences generated here
// from fixed word lists with a fixed seed.
//
// usage: bench_tokenizer [TOKENIZER_DIR] [CAPTIONS] [OUTPUT_JSON]
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "dualclip/core/fs.h"
#include "dualclip/text/tokenizer.h"

namespace {

std::vector<std::string> make_captions(size_t count) {
  const std::vector<std::string> articles = {"a", "an", "the", "two", "three", "some", "several"};
  const std::vector<std::string> adjectives = {"small", "large", "red", "white", "wooden", "old", "young", "busy",
                                               "empty", "crowded", "yellow", "striped", "shiny", "green"};
  const std::vector<std::string> nouns = {"man", "woman", "dog", "cat", "train", "bus", "giraffe", "pizza", "kitchen",
                                          "bathroom", "skateboarder", "surfboard", "table", "street", "elephant",
                                          "plate", "bicycle", "clock", "umbrella", "laptop"};
  const std::vector<std::string> verbs = {"sitting on", "standing next to", "riding", "holding", "walking down",
                                          "parked near", "looking at", "eating", "lying on", "flying over"};
  std::mt19937 rng(1234);
  auto pick = [&](const std::vector<std::string>& words) { return words[rng() % words.size()]; };

  std::vector<std::string> captions;
  captions.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string caption = pick(articles) + " " + pick(adjectives) + " " + pick(nouns) + " " + pick(verbs) + " " +
                          pick(articles) + " " + pick(adjectives) + " " + pick(nouns);
    if (rng() % 3 == 0) caption += " in the " + pick(nouns) + "'s " + pick(nouns);
    caption += rng() % 2 ? "." : "";
    caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(caption[0])));
    captions.push_back(caption);
  }
  return captions;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "../shared/golden/tokenizer/roberta-gpt2vocab";
  size_t count = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  std::string output = argc > 3 ? argv[3] : "";

  auto load_start = std::chrono::steady_clock::now();
  auto tokenizer = dualclip::text::load_tokenizer(dir);
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::vector<std::string> captions = make_captions(count);

  // Two passes: the first fills the word cache (as the first epoch does), the second is the
  // steady state of later epochs.
  nlohmann::json passes = nlohmann::json::array();
  size_t total_tokens = 0;
  for (const char* pass : {"cold cache", "warm cache"}) {
    total_tokens = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& caption : captions) total_tokens += tokenizer->encode(caption).size();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = static_cast<double>(captions.size()) / seconds;
    std::cout << pass << ": " << captions.size() << " captions in " << seconds << " s = " << static_cast<int64_t>(rate)
              << " captions/s (" << static_cast<double>(total_tokens) / captions.size() << " tokens per caption)\n";
    passes.push_back({{"pass", pass}, {"seconds", seconds}, {"captions_per_second", rate}});
  }
  std::cout << "vocabulary load: " << load_seconds << " s\n";

  if (!output.empty()) {
    nlohmann::json record = {{"benchmark", "tokenizer"}, {"tokenizer_dir", dir}, {"captions", count},
                             {"threads", 1}, {"load_seconds", load_seconds}, {"passes", passes}};
    dualclip::write_file_atomic(output, record.dump(2) + "\n");
  }
  return 0;
}
