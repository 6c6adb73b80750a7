// all_gather_with_grad: the global batch for the contrastive loss, with gradients flowing
// back to each rank's own rows.
//
// Scaling: every rank computes the same loss L over the gathered (global) batch. Backward on
// rank r yields dL/dG for the whole gathered tensor G; summing those over the W ranks and
// keeping rank r's rows gives W * dL/dx_r. Gradient averaging (GradientReducer divides the
// summed parameter gradients by W) then cancels the factor W, so the averaged gradients equal
// those of one process that computes L on the whole batch. This is open_clip's
// gather_with_grad=True with local_loss=False; tests/dist_collectives_test.cpp checks it.

#include <torch/autograd.h>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"
#include "dualclip/dist/process_group.h"

namespace dualclip::dist {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Every rank's row count, so that ranks with a smaller last batch still gather correctly.
std::vector<int64_t> gather_row_counts(int64_t rows) {
  auto local = torch::full({1}, rows, torch::TensorOptions().dtype(torch::kInt64).device(detail::communication_device()));
  std::vector<torch::Tensor> counts;
  for (int r = 0; r < world_size(); ++r) counts.push_back(torch::empty_like(local));
  std::vector<std::vector<torch::Tensor>> outputs{counts};
  std::vector<torch::Tensor> inputs{local};
  detail::wait_for(detail::group().allgather(outputs, inputs), "all_gather (row counts)");

  std::vector<int64_t> result;
  for (const auto& count : outputs[0]) result.push_back(count.item<int64_t>());
  return result;
}

// Gloo gathers equal shapes only, so every rank pads its rows to the largest count.
torch::Tensor gather_rows(const torch::Tensor& local, const std::vector<int64_t>& row_counts) {
  const int64_t max_rows = *std::max_element(row_counts.begin(), row_counts.end());
  auto shape = local.sizes().vec();
  shape[0] = max_rows;
  auto padded = torch::zeros(shape, local.options());
  padded.narrow(0, 0, local.size(0)).copy_(local);

  std::vector<torch::Tensor> slots;
  for (size_t r = 0; r < row_counts.size(); ++r) slots.push_back(torch::empty_like(padded));
  std::vector<std::vector<torch::Tensor>> outputs{slots};
  std::vector<torch::Tensor> inputs{padded};
  detail::wait_for(detail::group().allgather(outputs, inputs), "all_gather");

  std::vector<torch::Tensor> parts;
  for (size_t r = 0; r < row_counts.size(); ++r) parts.push_back(outputs[0][r].narrow(0, 0, row_counts[r]));
  return torch::cat(parts, 0);
}

// One gather for rows and counts: every rank pads to `max_rows` and adds a last column that
// is 1 on its real rows, so each slot's count is the sum of that column.
torch::Tensor gather_rows_and_counts(const torch::Tensor& local, int64_t max_rows, std::vector<int64_t>* row_counts) {
  if (local.dim() != 2) {
    throw Error("all_gather_with_grad: a row bound needs a two-dimensional tensor, got " +
                std::to_string(local.dim()) + " dimensions");
  }
  const int64_t rows = local.size(0);
  const int64_t columns = local.size(1);
  if (rows > max_rows) {
    throw Error("all_gather_with_grad: rank " + std::to_string(rank()) + " has " + std::to_string(rows) +
                " rows, more than the bound of " + std::to_string(max_rows));
  }
  auto padded = torch::zeros({max_rows, columns + 1}, local.options());
  padded.narrow(0, 0, rows).narrow(1, 0, columns).copy_(local);
  padded.narrow(0, 0, rows).select(1, columns).fill_(1);

  std::vector<torch::Tensor> slots;
  for (int r = 0; r < world_size(); ++r) slots.push_back(torch::empty_like(padded));
  std::vector<std::vector<torch::Tensor>> outputs{slots};
  std::vector<torch::Tensor> inputs{padded};
  detail::wait_for(detail::group().allgather(outputs, inputs), "all_gather");

  std::vector<torch::Tensor> parts;
  row_counts->clear();
  for (const auto& slot : outputs[0]) {
    const auto count = slot.select(1, columns).to(torch::kFloat64).sum().item<double>();
    row_counts->push_back(static_cast<int64_t>(count));
    parts.push_back(slot.narrow(0, 0, row_counts->back()).narrow(1, 0, columns));
  }
  return torch::cat(parts, 0);
}

struct AllGatherWithGrad : public torch::autograd::Function<AllGatherWithGrad> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor local, int64_t max_rows) {
    const auto communication_local = local.to(detail::communication_device()).contiguous();
    std::vector<int64_t> row_counts;
    torch::Tensor gathered;
    if (max_rows > 0) {
      gathered = gather_rows_and_counts(communication_local, max_rows, &row_counts);
    } else {
      row_counts = gather_row_counts(local.size(0));
      gathered = gather_rows(communication_local, row_counts);
    }
    int64_t offset = 0;
    for (int r = 0; r < rank(); ++r) offset += row_counts[r];
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["rows"] = local.size(0);
    ctx->saved_data["device"] = local.device();
    return gathered.to(local.device());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const int64_t offset = ctx->saved_data["offset"].toInt();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    const auto device = ctx->saved_data["device"].toDevice();

    // Every rank joins this all_reduce, even one whose loss ignored the gathered rows:
    // autograd::Function hands backward zeros for unused outputs (materialize_grads is on).
    auto summed = grad_outputs[0].to(detail::communication_device()).contiguous().clone();
    std::vector<torch::Tensor> tensors{summed};
    detail::wait_for(detail::group().allreduce(tensors), "all_reduce (all_gather_with_grad backward)");
    return {summed.narrow(0, offset, rows).to(device), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(const torch::Tensor& local, int64_t max_rows) {
  if (!is_distributed()) return local;
  return AllGatherWithGrad::apply(local, max_rows);
}

}  // namespace dualclip::dist
