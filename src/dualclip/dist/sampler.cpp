// shard_indices: the split of one epoch's permutation across ranks, index for index the same
// as torch.utils.data.DistributedSampler (PyTorch 1.13 and 2.x), so that a run resumed with
// another launcher reads the same samples on each rank.

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

namespace dualclip::dist {

std::vector<int64_t> shard_indices(const std::vector<int64_t>& permutation, int rank, int world_size, bool drop_last) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error("shard_indices: rank " + std::to_string(rank) + " is outside a world of size " +
                std::to_string(world_size));
  }
  const auto length = static_cast<int64_t>(permutation.size());
  const int64_t world = world_size;
  if (length == 0) return {};

  // Per-rank sample count: drop_last cuts the tail that does not fill a round, otherwise
  // the last round is completed by repeating the permutation from its start.
  const int64_t per_rank = drop_last ? length / world : (length + world - 1) / world;
  const int64_t total = per_rank * world;

  std::vector<int64_t> shard;
  shard.reserve(static_cast<size_t>(per_rank));
  for (int64_t position = rank; position < total; position += world) {
    shard.push_back(permutation[static_cast<size_t>(position % length)]);
  }
  return shard;
}

}  // namespace dualclip::dist
