// Embedding op: validates ids, gathers rows, records one scatter-add node.
#include <tapelm/autograd/embedding.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/embedding.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

Var embedding(const Var& table, const std::vector<int32_t>& ids, const Shape& ids_shape) {
  check_defined(table, "embedding", "table");
  if (table.dim() != 2) {
    throw ShapeError("embedding: table must have rank 2 [V, D], got " + shape_str(table.shape()));
  }
  const int64_t V = table.size(0);
  const int64_t D = table.size(1);
  const int64_t N = static_cast<int64_t>(ids.size());
  if (shape_numel(ids_shape) != N) {
    throw ShapeError("embedding: ids_shape " + shape_str(ids_shape) + " holds " +
                     std::to_string(shape_numel(ids_shape)) + " ids but " + std::to_string(N) +
                     " were given");
  }
  for (int64_t n = 0; n < N; ++n) {
    if (ids[n] < 0 || ids[n] >= V) {
      throw IndexError("embedding: id " + std::to_string(ids[n]) + " at position " + std::to_string(n) +
                       " is out of range for vocabulary size " + std::to_string(V));
    }
  }
  Shape out_shape = ids_shape;
  out_shape.push_back(D);
  Var out{Tensor(out_shape)};
  kernels::embedding_forward<float>(out.data(), table.data(), ids.data(), N, D);
  record_op("embedding", out, {&table}, [table = GradHandle(table), ids, N, D](const Tensor& dout) {
    kernels::embedding_backward<float>(table.ensure_grad().data(), dout.data(), ids.data(), N, D);
  });
  return out;
}

}  // namespace tapelm
