// The order in which a training epoch visits the dataset: a shuffle that depends only on the
// seed and the epoch (so a resumed run repeats it), sharded over ranks as PyTorch's
// DistributedSampler does, and resumable from a global sample position.
#pragma once

#include <cstdint>
#include <vector>

namespace dualclip::data {

// The permutation of 0..size-1 for `epoch`: a Fisher-Yates shuffle driven by a 64-bit
// Mersenne Twister seeded from (seed, epoch). Without `shuffle`, the identity.
std::vector<int64_t> epoch_permutation(int64_t size, uint64_t seed, int64_t epoch, bool shuffle = true);

// The indices this rank reads in the rest of an epoch that has already consumed the first
// `global_position` entries of `permutation` (over all ranks): the remainder is sharded with
// dist::shard_indices, so every rank gets the same count whatever the world size.
std::vector<int64_t> rank_indices(const std::vector<int64_t>& permutation, int64_t global_position, int rank,
                                  int world_size, bool drop_last);

// Splits `indices` into batches of `batch_size`; the last partial batch is kept unless
// `drop_last`, as PyTorch's BatchSampler.
std::vector<std::vector<int64_t>> make_batches(const std::vector<int64_t>& indices, int64_t batch_size,
                                               bool drop_last);

}  // namespace dualclip::data
