// GradientReducer: bucketed gradient averaging that overlaps the backward pass, in the manner
// of PyTorch's DistributedDataParallel reducer.
//
// Each parameter gets a post-hook on its gradient accumulator, which runs right after
// backward() has added this step's gradient into .grad. The hook copies .grad into its
// bucket's flat buffer; when a bucket is complete (and every earlier bucket has been
// launched, so all ranks issue the all-reduces in the same order) its all-reduce starts
// asynchronously while backward() carries on with earlier layers.
//
// The first buckets follow reverse parameter order, a guess at the order backward() produces
// gradients. After the first reduced step they are rebuilt in the order the gradients really
// arrived on rank 0 (parameters without a gradient last), as DDP does, so that a parameter
// unused or late in backward() does not hold back a bucket of early ones.

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <mutex>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"
#include "dualclip/dist/process_group.h"

namespace dualclip::dist {

namespace {

// PyTorch's DDP also starts with a small bucket: the last layers' gradients arrive first and
// their all-reduce can start before the large buckets fill.
constexpr int64_t kFirstBucketBytes = 1024 * 1024;

// One flat buffer holding several parameters' gradients, then one flag per parameter that is
// 1 where that rank had a gradient; after the sum, a flag of 0 means no rank had one.
struct Bucket {
  std::vector<size_t> parameters;
  std::vector<int64_t> offsets;
  int64_t flags_offset = 0;
  torch::Tensor buffer;
  size_t pending = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

struct Slot {
  size_t bucket = 0;
  size_t index = 0;  // position within the bucket
};

// Shared with the autograd hooks through a weak_ptr: c10d's grad-accumulator post-hooks
// cannot be removed, so hooks that outlive the reducer find it gone and do nothing.
struct ReducerCore {
  std::mutex mutex;
  std::vector<torch::Tensor> parameters;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<bool> ready;
  size_t next_bucket = 0;
  bool enabled = true;
  int launched_in_backward = 0;
  int64_t bucket_bytes = 0;
  bool rebuilt = false;
  std::vector<size_t> arrival_order;  // parameters in the order their hooks ran, until rebuilt

  void copy_into_bucket(size_t parameter) {
    const Slot& slot = slots[parameter];
    Bucket& bucket = buckets[slot.bucket];
    const auto& param = parameters[parameter];
    auto region = bucket.buffer.narrow(0, bucket.offsets[slot.index], param.numel());
    const auto& grad = param.grad();
    if (grad.defined()) {
      region.copy_(grad.reshape(-1));
    } else {
      region.zero_();
    }
    bucket.buffer[bucket.flags_offset + static_cast<int64_t>(slot.index)] = grad.defined() ? 1 : 0;
    ready[parameter] = true;
    bucket.pending -= 1;
  }

  void launch(Bucket& bucket) {
    std::vector<torch::Tensor> tensors{bucket.buffer};
    bucket.work = detail::group().allreduce(tensors);
  }

  // Launches complete buckets strictly in bucket order, so every rank issues the same
  // sequence of collectives even when its gradients arrive in a different order.
  void launch_complete_buckets() {
    while (next_bucket < buckets.size() && buckets[next_bucket].pending == 0) {
      launch(buckets[next_bucket]);
      next_bucket += 1;
    }
  }

  void on_gradient_ready(size_t parameter) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!enabled) return;
    if (ready[parameter]) {
      throw std::logic_error(
          "GradientReducer: a second backward() reached a parameter before synchronize(); call set_enabled(false) "
          "for the micro-steps of gradient accumulation that should not reduce");
    }
    copy_into_bucket(parameter);
    if (!rebuilt) arrival_order.push_back(parameter);
    launch_complete_buckets();
    launched_in_backward = static_cast<int>(next_bucket);
  }
};

}  // namespace

struct GradientReducer::State {
  std::shared_ptr<ReducerCore> core;
  // Held so that the accumulators, and with them the hooks, live as long as the reducer.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  double last_wait_seconds = 0.0;
  int last_launched_in_backward = 0;
};

namespace {

// Fills buckets with the parameters in `order`, starting a new one where the size cap is
// reached or the dtype or device changes.
void assign_buckets(ReducerCore& core, const std::vector<size_t>& order) {
  const size_t count = core.parameters.size();
  core.buckets.clear();
  core.slots.assign(count, Slot{});
  int64_t bucket_size = 0;
  for (const size_t p : order) {
    const auto& param = core.parameters[p];
    const int64_t bytes = param.numel() * static_cast<int64_t>(param.element_size());
    const int64_t cap = core.buckets.size() <= 1 ? std::min(core.bucket_bytes, kFirstBucketBytes) : core.bucket_bytes;

    bool start_new = core.buckets.empty();
    if (!start_new) {
      const auto& first = core.parameters[core.buckets.back().parameters.front()];
      start_new = bucket_size + bytes > cap || first.scalar_type() != param.scalar_type() ||
                  first.device() != param.device();
    }
    if (start_new) {
      core.buckets.emplace_back();
      bucket_size = 0;
    }

    Bucket& bucket = core.buckets.back();
    core.slots[p] = Slot{core.buckets.size() - 1, bucket.parameters.size()};
    bucket.offsets.push_back(bucket.flags_offset);
    bucket.flags_offset += param.numel();
    bucket.parameters.push_back(p);
    bucket_size += bytes;
  }

  for (auto& bucket : core.buckets) {
    const auto& first = core.parameters[bucket.parameters.front()];
    const int64_t length = bucket.flags_offset + static_cast<int64_t>(bucket.parameters.size());
    bucket.buffer = torch::zeros({length}, first.options().requires_grad(false).device(detail::communication_device()));
    bucket.pending = bucket.parameters.size();
  }
  core.ready.assign(count, false);
  core.next_bucket = 0;
}

std::vector<size_t> reverse_order(size_t count) {
  std::vector<size_t> order;
  for (size_t step = 0; step < count; ++step) order.push_back(count - 1 - step);
  return order;
}

// Rank 0's arrival order, extended by the parameters that got no gradient, for every rank:
// the buckets, and so the sequence of all-reduces, must be the same everywhere.
std::vector<size_t> agreed_arrival_order(const ReducerCore& core) {
  std::vector<size_t> order = core.arrival_order;
  std::vector<bool> seen(core.parameters.size(), false);
  for (const size_t p : order) seen[p] = true;
  for (const size_t p : reverse_order(core.parameters.size())) {
    if (!seen[p]) order.push_back(p);
  }

  std::vector<torch::Tensor> shared{torch::tensor(std::vector<int64_t>(order.begin(), order.end()))};
  broadcast_(shared);
  const auto agreed = shared[0].contiguous();
  return std::vector<size_t>(agreed.data_ptr<int64_t>(), agreed.data_ptr<int64_t>() + agreed.numel());
}

}  // namespace

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, int64_t bucket_bytes)
    : state_(std::make_unique<State>()) {
  if (!is_distributed()) return;
  if (bucket_bytes <= 0) throw Error("GradientReducer: bucket_bytes must be positive, got " + std::to_string(bucket_bytes));

  auto core = std::make_shared<ReducerCore>();
  for (auto& param : parameters) {
    if (param.requires_grad()) core->parameters.push_back(param);
  }
  if (core->parameters.empty()) return;
  core->bucket_bytes = bucket_bytes;
  assign_buckets(*core, reverse_order(core->parameters.size()));

  std::weak_ptr<ReducerCore> weak_core = core;
  for (size_t p = 0; p < core->parameters.size(); ++p) {
    auto accumulator = torch::autograd::impl::grad_accumulator(core->parameters[p]);
    if (!accumulator) throw Error("GradientReducer: parameter " + std::to_string(p) + " is not a leaf tensor");
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak_core, p](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (auto alive = weak_core.lock()) alive->on_gradient_ready(p);
          return outputs;
        }));
    state_->accumulators.push_back(std::move(accumulator));
  }
  state_->core = std::move(core);
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::set_enabled(bool enabled) {
  if (!state_->core) return;
  std::lock_guard<std::mutex> lock(state_->core->mutex);
  state_->core->enabled = enabled;
}

bool GradientReducer::enabled() const {
  if (!state_->core) return true;
  std::lock_guard<std::mutex> lock(state_->core->mutex);
  return state_->core->enabled;
}

void GradientReducer::synchronize() {
  if (!state_->core) return;
  ReducerCore& core = *state_->core;
  std::lock_guard<std::mutex> lock(core.mutex);
  if (!core.enabled) return;
  torch::NoGradGuard no_grad;
  state_->last_launched_in_backward = core.launched_in_backward;

  // Parameters that backward() did not reach (unused this step) join with zeros, so every
  // rank still launches every bucket.
  for (size_t p = 0; p < core.parameters.size(); ++p) {
    if (!core.ready[p]) core.copy_into_bucket(p);
  }
  core.launch_complete_buckets();

  // Wait in launch order, then write the mean back into .grad.
  const int world = world_size();
  double waited = 0.0;
  for (auto& bucket : core.buckets) {
    const auto start = std::chrono::steady_clock::now();
    detail::wait_for(bucket.work, "gradient all_reduce");
    waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bucket.work.reset();

    bucket.buffer.narrow(0, 0, bucket.flags_offset).div_(world);
    const auto flags = bucket.buffer.narrow(0, bucket.flags_offset, static_cast<int64_t>(bucket.parameters.size()))
                           .to(torch::kCPU, torch::kFloat64);
    const double* had_gradient = flags.data_ptr<double>();
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      if (had_gradient[i] == 0.0) continue;
      auto& param = core.parameters[bucket.parameters[i]];
      auto mean = bucket.buffer.narrow(0, bucket.offsets[i], param.numel()).view(param.sizes()).to(param.device());
      if (param.grad().defined()) {
        param.mutable_grad().copy_(mean);
      } else {
        param.mutable_grad() = mean.clone();
      }
    }
    bucket.pending = bucket.parameters.size();
  }

  // Ready for the next step, with buckets in the observed order after the first one.
  state_->last_wait_seconds = waited;
  core.ready.assign(core.parameters.size(), false);
  core.next_bucket = 0;
  core.launched_in_backward = 0;
  if (!core.rebuilt) {
    assign_buckets(core, agreed_arrival_order(core));
    core.arrival_order.clear();
    core.rebuilt = true;
  }
}

double GradientReducer::last_wait_seconds() const { return state_->last_wait_seconds; }

int GradientReducer::last_buckets_launched_in_backward() const { return state_->last_launched_in_backward; }

int GradientReducer::bucket_count() const {
  return state_->core ? static_cast<int>(state_->core->buckets.size()) : 0;
}

}  // namespace dualclip::dist
