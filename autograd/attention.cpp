// Fused scaled dot-product attention op: validates shapes and mask, runs the kernel pair,
// records one node that keeps only q, k, v, the output and the row log-sum-exp.
#include <tapelm/autograd/attention.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/grad_target.h>
#include <tapelm/autograd/kernels/attention.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

kernels::AttentionDims attention_dims(const Var& q, const Var& k, const Var& v, const AttentionMask& mask,
                                      int64_t kv_length) {
  for (const auto& [name, x] : {std::pair<const char*, const Var*>{"q", &q}, {"k", &k}, {"v", &v}}) {
    check_defined(*x, "attention", name);
    if (x->dim() != 4) {
      throw ShapeError(std::string("attention: ") + name + " must have rank 4 [B, H, T, D], got " +
                       shape_str(x->shape()));
    }
  }
  if (k.shape() != v.shape()) {
    throw ShapeError("attention: k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
                     " must have the same shape [B, H, Tk, D]");
  }
  if (k.size(0) != q.size(0) || k.size(1) != q.size(1) || k.size(3) != q.size(3)) {
    throw ShapeError("attention: q " + shape_str(q.shape()) + " and k " + shape_str(k.shape()) +
                     " must agree in B, H and D (q: [B, H, Tq, D], k: [B, H, Tk, D])");
  }
  kernels::AttentionDims d;
  d.B = q.size(0);
  d.H = q.size(1);
  d.Tq = q.size(2);
  d.Tk = k.size(2);
  d.D = q.size(3);
  if (kv_length >= 0) {
    if (kv_length > k.size(2)) {
      throw ShapeError("attention: kv_length " + std::to_string(kv_length) +
                       " exceeds the key buffer's capacity of " + std::to_string(k.size(2)) +
                       " positions (k " + shape_str(k.shape()) + ")");
    }
    d.kv_capacity = k.size(2);
    d.Tk = kv_length;
  }
  d.causal = mask.causal;
  if (!mask.key_padding.empty()) {
    if (static_cast<int64_t>(mask.key_padding.size()) != d.B * d.Tk) {
      throw ShapeError("attention: key_padding has " + std::to_string(mask.key_padding.size()) +
                       " entries, expected B * Tk = " + std::to_string(d.B) + " * " + std::to_string(d.Tk) +
                       " for k " + shape_str(k.shape()));
    }
    d.key_padding = mask.key_padding.data();
  }
  return d;
}

}  // namespace

Var attention(const Var& q, const Var& k, const Var& v, const AttentionMask& mask, float scale, int64_t kv_length) {
  kernels::AttentionDims d = attention_dims(q, k, v, mask, kv_length);
  if (scale <= 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  Var out(Tensor(q.shape()));
  Tensor lse({d.B, d.H, d.Tq});
  kernels::attention_forward<float>(out.data(), lse.data(), q.data(), k.data(), v.data(), d, scale);
  record_op("attention", out, {&q, &k, &v},
            [q, k, v, out, lse, d, padding = mask.key_padding, scale](const Tensor& dout) mutable {
    d.key_padding = padding.empty() ? nullptr : padding.data();  // the caller's mask may be gone
    kernels::attention_backward<float>(grad_target(q), grad_target(k), grad_target(v), dout.data(), q.data(),
                                       k.data(), v.data(), out.data(), lse.data(), d, scale);
  });
  return out;
}

}  // namespace tapelm
