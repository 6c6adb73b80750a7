// The data loader: worker threads decode, preprocess and tokenize whole batches ahead of the
// training step. Batches come out in the order they were planned whatever the threads'
// timing, so a run (and a resumed run) sees the same batches every time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/types.h>

#include "dualclip/data/caption_dataset.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/vision/processor.h"

namespace dualclip::data {

struct Batch {
  torch::Tensor pixel_values;  // float32 [n, 3, H, W]
  text::BatchEncoding text;    // [n, length]
  std::vector<int64_t> indices;  // dataset indices of the n examples kept
  // Examples planned for this batch whose image could not be read (left out of the batch).
  std::vector<std::filesystem::path> unreadable;
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

struct LoaderOptions {
  int64_t max_seq_length = 128;
  text::Padding padding = text::Padding::Longest;
  // Worker threads; 0 builds each batch on the calling thread when it is requested.
  int num_workers = 2;
  // Batches built ahead of the consumer, in total over all workers.
  int prefetch_batches = 4;
  // Fast image path (reduced-scale JPEG decoding, vectorised resize) for training.
  bool fast_images = true;
  // An unreadable image raises dualclip::Error (naming it) instead of being left out.
  bool strict = false;
};

class DataLoader {
 public:
  DataLoader(const CaptionDataset& dataset, const vision::ImageProcessor& processor, const text::Tokenizer& tokenizer,
             LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Plans a pass over `batches` (lists of dataset indices) and starts the workers on it. Any
  // previous pass is stopped first.
  void start(std::vector<std::vector<int64_t>> batches);

  // The next planned batch, waiting for it if needed; false at the end of the pass. Rethrows
  // an error a worker raised (with `strict`, an unreadable image).
  bool next(Batch& batch);

  // Seconds next() spent waiting for workers since the last call of this function.
  double take_wait_seconds();

  // Builds one batch on the calling thread (evaluation, tests).
  Batch build(const std::vector<int64_t>& indices) const;

 private:
  void stop();
  void worker_loop();

  const CaptionDataset& dataset_;
  const vision::ImageProcessor& processor_;
  const text::Tokenizer& tokenizer_;
  LoaderOptions options_;

  std::vector<std::vector<int64_t>> plan_;
  size_t next_to_claim_ = 0;    // next planned batch a worker takes
  size_t next_to_return_ = 0;   // next planned batch next() returns
  // Built batches by plan position; an error stays with its batch so that earlier batches
  // still come out first.
  std::map<size_t, std::pair<Batch, std::exception_ptr>> ready_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable batch_ready_;
  std::condition_variable slot_free_;
  std::vector<std::thread> workers_;
  double wait_seconds_ = 0.0;
};

}  // namespace dualclip::data
