// shard_indices against DistributedSampler's split, worked out by hand for each case.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

using dualclip::dist::shard_indices;
using Indices = std::vector<int64_t>;

namespace {
const Indices kPermutation = {7, 2, 9, 4, 0, 5, 8, 1, 6, 3};
}

TEST(DistShard, PadsWithPermutationStart) {
  // 10 samples on 3 ranks: 4 each, padded with the first two entries (7, 2).
  EXPECT_EQ(shard_indices(kPermutation, 0, 3, false), (Indices{7, 4, 8, 3}));
  EXPECT_EQ(shard_indices(kPermutation, 1, 3, false), (Indices{2, 0, 1, 7}));
  EXPECT_EQ(shard_indices(kPermutation, 2, 3, false), (Indices{9, 5, 6, 2}));
}

TEST(DistShard, DropLastCutsTail) {
  // 10 samples on 3 ranks: 3 each, the last entry (3) is dropped.
  EXPECT_EQ(shard_indices(kPermutation, 0, 3, true), (Indices{7, 4, 8}));
  EXPECT_EQ(shard_indices(kPermutation, 1, 3, true), (Indices{2, 0, 1}));
  EXPECT_EQ(shard_indices(kPermutation, 2, 3, true), (Indices{9, 5, 6}));
}

TEST(DistShard, PaddingLongerThanDataset) {
  // 2 samples on 5 ranks: padded to 5 by repeating the permutation: 5 6 5 6 5.
  const Indices tiny = {5, 6};
  const Indices expected[] = {{5}, {6}, {5}, {6}, {5}};
  for (int rank = 0; rank < 5; ++rank) EXPECT_EQ(shard_indices(tiny, rank, 5, false), expected[rank]) << "rank " << rank;
  for (int rank = 0; rank < 5; ++rank) EXPECT_TRUE(shard_indices(tiny, rank, 5, true).empty()) << "rank " << rank;
}

TEST(DistShard, DivisibleSizeSameEitherWay) {
  const Indices eight = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(shard_indices(eight, 1, 4, false), (Indices{1, 5}));
  EXPECT_EQ(shard_indices(eight, 1, 4, true), (Indices{1, 5}));
  EXPECT_EQ(shard_indices(eight, 0, 1, false), eight);
}

TEST(DistShard, EveryIndexCoveredWithoutDropLast) {
  std::set<int64_t> seen;
  for (int rank = 0; rank < 4; ++rank) {
    const auto shard = shard_indices(kPermutation, rank, 4, false);
    EXPECT_EQ(shard.size(), 3u);
    seen.insert(shard.begin(), shard.end());
  }
  EXPECT_EQ(seen.size(), kPermutation.size());
}

TEST(DistShard, EmptyPermutation) { EXPECT_TRUE(shard_indices({}, 0, 2, false).empty()); }

TEST(DistShard, InvalidRankThrows) {
  EXPECT_THROW(shard_indices(kPermutation, 3, 3, false), dualclip::Error);
  EXPECT_THROW(shard_indices(kPermutation, -1, 3, false), dualclip::Error);
  EXPECT_THROW(shard_indices(kPermutation, 0, 0, false), dualclip::Error);
}
