// bf16 products on oneDNN's matmul primitive, cached per shape and thread.
#include <tapelm/autograd/bf16_matmul.h>

#include <stdexcept>

#include <tapelm/autograd/gemm_backend.h>

#if TAPELM_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#include <vector>
#endif

namespace tapelm::kernels::detail {

#if TAPELM_HAVE_ONEDNN
namespace {

struct Shape {
  int64_t m, n, k, ldc, lda, ldb;
  bool trans_a, trans_b, accumulate;
  bool operator==(const Shape& o) const {
    return m == o.m && n == o.n && k == o.k && ldc == o.ldc && lda == o.lda && ldb == o.ldb &&
           trans_a == o.trans_a && trans_b == o.trans_b && accumulate == o.accumulate;
  }
};

struct ShapeHash {
  std::size_t operator()(const Shape& s) const {
    std::size_t h = static_cast<std::size_t>(s.m);
    for (const int64_t v : {s.n, s.k, s.ldc, s.lda, s.ldb}) h = h * 1000003u ^ static_cast<std::size_t>(v);
    return h * 8 + (s.trans_a ? 4 : 0) + (s.trans_b ? 2 : 0) + (s.accumulate ? 1 : 0);
  }
};

struct Matmul {
  dnnl::memory::desc a, b, c;
  dnnl::matmul primitive;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN streams are not thread-safe, and every OpenMP thread computes its own blocks.
struct ThreadState {
  dnnl::stream stream{cpu_engine()};
  std::unordered_map<Shape, Matmul, ShapeHash> matmuls;
  std::vector<uint16_t> a, b;
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

// Variable-length fine-tuning meets many shapes; past this many a thread starts over (oneDNN
// keeps its own cache of primitives too, so a shape seen again is rebuilt cheaply).
constexpr std::size_t kMaxCachedShapes = 512;

Matmul make_matmul(const Shape& s) {
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  Matmul mm;
  // Operands keep their stored layout (a transposed operand is a column-major one). Each is
  // packed contiguously by round_block, or read in place where it was rounded already (a
  // weight's or an activation's copy) with its own row stride. c is written in place with
  // its own row stride.
  mm.a = dnnl::memory::desc({s.m, s.k}, dt::bf16, s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});
  mm.b = dnnl::memory::desc({s.k, s.n}, dt::bf16, s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});
  mm.c = dnnl::memory::desc({s.m, s.n}, dt::f32, dims{s.ldc, 1});
  dnnl::primitive_attr attr;
  if (s.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  mm.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(mm.a, mm.b, mm.c), attr, cpu_engine()));
  return mm;
}

// The rows × cols block at x (row stride ld) as contiguous bfloat16 at dst.
void round_block(uint16_t* dst, const float* x, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) dst[r * cols + j] = to_bf16(row[j]);
  }
}

// The same into a thread's own buffer, which is only ever grown: resizing down and up again
// would zero the regrown part on every call.
const uint16_t* round_privately(std::vector<uint16_t>& buffer, const float* x, int64_t rows, int64_t cols,
                                int64_t ld) {
  if (buffer.size() < static_cast<std::size_t>(rows * cols)) buffer.resize(static_cast<std::size_t>(rows * cols));
  round_block(buffer.data(), x, rows, cols, ld);
  return buffer.data();
}

}  // namespace

bool bf16_matmul_available(std::string* why) {
  // The ISA oneDNN uses: the CPU's, or less under ONEDNN_MAX_CPU_ISA.
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  if ((isa & bf16) != bf16) {
    if (why) *why = "the CPU has no AVX512-BF16 or AMX (oneDNN would emulate bf16, slower than fp32)";
    return false;
  }
  try {
    make_matmul({16, 16, 16, 16, 16, 16, false, false, false});
    return true;
  } catch (const dnnl::error& e) {
    if (why) *why = std::string("oneDNN has no bf16 matmul for this CPU (") + e.what() + ")";
    return false;
  }
}

void bf16_gemm_block(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                     int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate, const Bf16Operands& bf16) {
  ThreadState& state = thread_state();
  const int64_t packed_lda = trans_a ? m : k;
  const int64_t packed_ldb = trans_b ? k : n;
  const Shape shape{m, n, k, ldc, bf16.a ? lda : packed_lda, bf16.b ? ldb : packed_ldb, trans_a, trans_b, accumulate};
  auto found = state.matmuls.find(shape);
  if (found == state.matmuls.end()) {
    if (state.matmuls.size() >= kMaxCachedShapes) state.matmuls.clear();
    found = state.matmuls.emplace(shape, make_matmul(shape)).first;
  }
  const Matmul& mm = found->second;
  const uint16_t* a16 = bf16.a;
  if (!a16 && bf16.keep_a) {
    round_block(bf16.keep_a, a, m, k, lda);
    a16 = bf16.keep_a;
  } else if (!a16) {
    a16 = round_privately(state.a, a, trans_a ? k : m, trans_a ? m : k, lda);
  }
  const uint16_t* b16 = bf16.b ? bf16.b : round_privately(state.b, b, trans_b ? n : k, trans_b ? k : n, ldb);
  // oneDNN takes every handle as void*; it only reads the source and the weights.
  dnnl::memory am(mm.a, cpu_engine(), const_cast<uint16_t*>(a16));
  dnnl::memory bm(mm.b, cpu_engine(), const_cast<uint16_t*>(b16));
  dnnl::memory cm(mm.c, cpu_engine(), c);
  mm.primitive.execute(state.stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  state.stream.wait();
}

#else

bool bf16_matmul_available(std::string* why) {
  if (why) {
    *why = std::string("this tapelm is built without oneDNN (install ") + gemm_backend_packages(GemmBackend::OneDnn) +
           " and build again)";
  }
  return false;
}

void bf16_gemm_block(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t, bool,
                     bool, bool, const Bf16Operands&) {
  throw std::logic_error("bf16_gemm_block: built without oneDNN");
}

#endif

}  // namespace tapelm::kernels::detail
