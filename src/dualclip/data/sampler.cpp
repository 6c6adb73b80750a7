#include "dualclip/data/sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "dualclip/dist/distributed.h"

namespace dualclip::data {

std::vector<int64_t> epoch_permutation(int64_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> permutation(static_cast<size_t>(size));
  std::iota(permutation.begin(), permutation.end(), int64_t{0});
  if (!shuffle) return permutation;

  // std::shuffle and std::uniform_int_distribution differ between standard libraries, so the
  // draw is written out: a 64-bit draw reduced by rejection, which is exact and portable.
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(epoch), static_cast<uint32_t>(static_cast<uint64_t>(epoch) >> 32)};
  std::mt19937_64 rng(seq);
  for (int64_t i = size - 1; i > 0; --i) {
    uint64_t range = static_cast<uint64_t>(i) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t draw = rng();
    while (draw >= limit) draw = rng();
    std::swap(permutation[static_cast<size_t>(i)], permutation[static_cast<size_t>(draw % range)]);
  }
  return permutation;
}

std::vector<int64_t> rank_indices(const std::vector<int64_t>& permutation, int64_t global_position, int rank,
                                  int world_size, bool drop_last) {
  int64_t start = std::min<int64_t>(global_position, static_cast<int64_t>(permutation.size()));
  std::vector<int64_t> rest(permutation.begin() + start, permutation.end());
  if (rest.empty()) return rest;
  return dist::shard_indices(rest, rank, world_size, drop_last);
}

std::vector<std::vector<int64_t>> make_batches(const std::vector<int64_t>& indices, int64_t batch_size,
                                               bool drop_last) {
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < indices.size(); begin += static_cast<size_t>(batch_size)) {
    size_t end = std::min(indices.size(), begin + static_cast<size_t>(batch_size));
    if (drop_last && static_cast<int64_t>(end - begin) < batch_size) break;
    batches.emplace_back(indices.begin() + begin, indices.begin() + end);
  }
  return batches;
}

}  // namespace dualclip::data
