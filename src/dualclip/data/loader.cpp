#include "dualclip/data/loader.h"

#include <chrono>

#include "dualclip/core/error.h"

namespace dualclip::data {

DataLoader::DataLoader(const CaptionDataset& dataset, const vision::ImageProcessor& processor,
                       const text::Tokenizer& tokenizer, LoaderOptions options)
    : dataset_(dataset), processor_(processor), tokenizer_(tokenizer), options_(options) {
  if (options_.prefetch_batches < 1) options_.prefetch_batches = 1;
}

DataLoader::~DataLoader() { stop(); }

Batch DataLoader::build(const std::vector<int64_t>& indices) const {
  Batch batch;
  std::vector<torch::Tensor> images;
  std::vector<std::string> captions;
  images.reserve(indices.size());
  captions.reserve(indices.size());

  // Decode and preprocess each image; an unreadable one is left out (or fatal with strict).
  for (int64_t index : indices) {
    const CaptionExample& example = dataset_.examples.at(static_cast<size_t>(index));
    try {
      images.push_back(processor_.load(example.image_path, options_.fast_images));
    } catch (const Error& e) {
      if (options_.strict) {
        throw Error(std::string(e.what()) + " (listed in " + dataset_.source +
                    "); --strict_data stops at the first unreadable image, drop it to skip such images");
      }
      batch.unreadable.push_back(example.image_path);
      continue;
    }
    captions.push_back(example.caption);
    batch.indices.push_back(index);
  }
  if (images.empty()) return batch;

  // Stack pixels and tokenize the captions of the kept examples.
  batch.pixel_values = torch::stack(images);
  batch.text = tokenizer_.batch_encode(captions, options_.max_seq_length, options_.padding);
  return batch;
}

void DataLoader::start(std::vector<std::vector<int64_t>> batches) {
  stop();
  plan_ = std::move(batches);
  next_to_claim_ = 0;
  next_to_return_ = 0;
  ready_.clear();
  stopping_ = false;
  for (int i = 0; i < options_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  slot_free_.notify_all();
  batch_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void DataLoader::worker_loop() {
  while (true) {
    // Claim the next planned batch once it is within the prefetch window.
    size_t claimed;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      slot_free_.wait(lock, [&] {
        return stopping_ || next_to_claim_ >= plan_.size() ||
               next_to_claim_ < next_to_return_ + static_cast<size_t>(options_.prefetch_batches);
      });
      if (stopping_ || next_to_claim_ >= plan_.size()) return;
      claimed = next_to_claim_++;
    }

    // Build it without the lock, then file it under its position in the plan.
    Batch batch;
    std::exception_ptr error;
    try {
      batch = build(plan_[claimed]);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(claimed, std::make_pair(std::move(batch), error));
    }
    batch_ready_.notify_all();
  }
}

bool DataLoader::next(Batch& batch) {
  if (next_to_return_ >= plan_.size()) return false;

  // Without workers, the batch is built here (PyTorch's num_workers=0).
  if (workers_.empty()) {
    auto begin = std::chrono::steady_clock::now();
    batch = build(plan_[next_to_return_++]);
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return true;
  }

  auto begin = std::chrono::steady_clock::now();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    batch_ready_.wait(lock, [&] { return ready_.count(next_to_return_) > 0; });
    auto it = ready_.find(next_to_return_);
    std::exception_ptr error = it->second.second;
    batch = std::move(it->second.first);
    ready_.erase(it);
    ++next_to_return_;
    if (error) std::rethrow_exception(error);
  }
  slot_free_.notify_all();
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return true;
}

double DataLoader::take_wait_seconds() {
  double seconds = wait_seconds_;
  wait_seconds_ = 0.0;
  return seconds;
}

}  // namespace dualclip::data
