// Our own TensorFlow kernels for the native backend, the counterpart of the WASM SIMD kernels
// (src/nn/kernels/simd/): a training-mode batch norm pair and the masked optimizer update, each
// one op where tfjs-node would run 8 to 17 element-wise ops, each with its own dispatch and its
// own full-size allocation. Measured on ResNet-20 (batch 128) and LeNet-300-100 (batch 60):
// bench/RESULTS.md.
//
// Written by hand because no library has them: TensorFlow's FusedBatchNormV3 is one op too, but
// under oneDNN its forward pass computes y as x * scale + shift and its gradient departs from the
// other backends' by up to 1e-2 of the largest value in ResNet-20 (where dy is nearly constant
// per channel and the formula cancels); and TensorFlow's optimizer ops update resource variables,
// which the tfjs binding does not hold.
//
// They are registered through TensorFlow's C kernel API (tensorflow/c/kernels.h, ops.h, exported
// by libtensorflow_framework.so.2), so only the C headers the binding already needs are used. The
// library is also a Node-API module: the backend loads it with require() after the binding, and
// its static registration puts the ops in the process's one TensorFlow op registry, where the
// binding's eager ops find them by name. Built by `pipeline setup native` (src/nn/native/setup.ts).
//
// Numerics (the same as the composed versions in src/nn/models and src/nn/optim.ts):
// - element-wise arithmetic is float32, one IEEE operation at a time in the composed order
//   (compiled with -ffp-contract=off and -fno-math-errno, which lets sqrt vectorise, no fast-math):
//   the optimizer update is bitwise the WASM
//   fused kernel's (src/nn/kernels/optimizer.ts);
// - per-channel sums are accumulated in double over fixed blocks of rows, and the blocks added in
//   order, so a result does not depend on the thread count (unlike TensorFlow's own reductions);
// - the variance is two-pass (sum of (x - mean)^2), y = (x - mean) * (rstd * gamma) + beta.
//
// Threads: TF_NUM_INTRAOP_THREADS (which the backend sets to the stage's cores) workers share the
// blocks of one op; the C kernel API does not expose TensorFlow's own intra-op pool.

#include <node_api.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

// The hot loops are compiled twice, for AVX2 and for the x86-64 baseline, and the CPU picks at
// load time (GCC's target_clones): a build stays valid on another x86-64 machine sharing the
// folder. Lane-wise IEEE arithmetic, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define LTH_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LTH_VECTOR_CLONES
#endif

#ifndef LTH_OPS_DIGEST
#define LTH_OPS_DIGEST "unknown"
#endif

namespace {

// ---------------------------------------------------------------- threads

// One parallel loop: tasks 0..n-1 handed out by an atomic counter. Held by shared_ptr so that a
// worker that wakes after the loop has finished only finds no task left.
struct Job {
  std::function<void(int64_t)> fn;
  int64_t tasks = 0;
  std::atomic<int64_t> next{0};
  int64_t done = 0;
};

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; i++) std::thread([this] { Loop(); }).detach();
    extra_ = threads - 1;
  }

  void Run(int64_t tasks, const std::function<void(int64_t)>& fn) {
    if (extra_ == 0 || tasks < 2) {
      for (int64_t i = 0; i < tasks; i++) fn(i);
      return;
    }
    auto job = std::make_shared<Job>();
    job->fn = fn;
    job->tasks = tasks;
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = job;
      gen_++;
    }
    cv_.notify_all();
    Work(*job);
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return job->done == job->tasks; });
    job_.reset();
  }

 private:
  void Work(Job& job) {
    int64_t mine = 0;
    for (int64_t i; (i = job.next.fetch_add(1)) < job.tasks; mine++) job.fn(i);
    if (mine == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    job.done += mine;
    if (job.done == job.tasks) done_cv_.notify_all();
  }

  void Loop() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        job = job_;
      }
      if (job) Work(*job);
    }
  }

  int extra_ = 0;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::shared_ptr<Job> job_;
  uint64_t gen_ = 0;
};

// Never destroyed: its threads are detached and live as long as the process.
Pool& pool() {
  static Pool* p = [] {
    const char* env = std::getenv("TF_NUM_INTRAOP_THREADS");
    int n = env ? std::atoi(env) : 1;
    return new Pool(n > 0 ? n : 1);
  }();
  return *p;
}

// Rows per block: about 16K elements, so small tensors run as one task on the calling thread.
int64_t RowsPerBlock(int64_t channels) { return channels >= 16384 ? 1 : 16384 / channels; }

// ---------------------------------------------------------------- tensors

struct Status {
  TF_Status* s = TF_NewStatus();
  ~Status() { TF_DeleteStatus(s); }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
};

struct Tensor {
  TF_Tensor* t = nullptr;
  ~Tensor() {
    if (t) TF_DeleteTensor(t);
  }
  float* data() const { return static_cast<float*>(TF_TensorData(t)); }
  int64_t size() const { return TF_TensorElementCount(t); }
  int64_t channels() const { return TF_NumDims(t) == 0 ? 1 : TF_Dim(t, TF_NumDims(t) - 1); }
  std::vector<int64_t> dims() const {
    std::vector<int64_t> d(TF_NumDims(t));
    for (size_t i = 0; i < d.size(); i++) d[i] = TF_Dim(t, static_cast<int>(i));
    return d;
  }
};

bool Input(TF_OpKernelContext* ctx, int i, Tensor* out) {
  Status s;
  TF_GetInput(ctx, i, &out->t, s.s);
  if (!s.ok()) TF_OpKernelContext_Failure(ctx, s.s);
  return s.ok();
}

bool Output(TF_OpKernelContext* ctx, int i, const std::vector<int64_t>& dims, Tensor* out) {
  Status s;
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  out->t = TF_AllocateOutput(ctx, i, TF_FLOAT, dims.data(), static_cast<int>(dims.size()), n * sizeof(float), s.s);
  if (!s.ok()) TF_OpKernelContext_Failure(ctx, s.s);
  return s.ok();
}

float FloatAttr(TF_OpKernelConstruction* ctx, const char* name) {
  Status s;
  float v = 0;
  TF_OpKernelConstruction_GetAttrFloat(ctx, name, &v, s.s);
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  return v;
}

// Per-channel sums over blocks of rows, in double, blocks added in order.
template <typename F>
void ChannelSums(int64_t rows, int64_t c, int sums, std::vector<double>* out, F add_row) {
  const int64_t rpb = RowsPerBlock(c);
  const int64_t blocks = (rows + rpb - 1) / rpb;
  std::vector<double> part(static_cast<size_t>(blocks * sums * c), 0.0);
  pool().Run(blocks, [&](int64_t b) {
    double* acc = part.data() + b * sums * c;
    for (int64_t r = b * rpb, end = std::min(rows, r + rpb); r < end; r++) add_row(r, acc);
  });
  out->assign(static_cast<size_t>(sums * c), 0.0);
  for (int64_t b = 0; b < blocks; b++)
    for (int64_t i = 0; i < sums * c; i++) (*out)[i] += part[b * sums * c + i];
}

// A row-wise pass in blocks.
template <typename F>
void ForRows(int64_t rows, int64_t c, F row) {
  const int64_t rpb = RowsPerBlock(c);
  pool().Run((rows + rpb - 1) / rpb, [&](int64_t b) {
    for (int64_t r = b * rpb, end = std::min(rows, r + rpb); r < end; r++) row(r);
  });
}

// ---------------------------------------------------------------- batch norm

struct BatchNormKernel {
  float epsilon;
};

void* CreateBatchNorm(TF_OpKernelConstruction* ctx) { return new BatchNormKernel{FloatAttr(ctx, "epsilon")}; }
void DeleteBatchNorm(void* k) { delete static_cast<BatchNormKernel*>(k); }

// LthBatchNorm(x [..., C], gamma [C], beta [C]) -> y, mean, variance (biased), saved_mean, rstd.
// saved_mean duplicates mean: the caller keeps one for the running averages, the gradient the other.
void ComputeBatchNorm(void* kernel, TF_OpKernelContext* ctx) {
  const float eps = static_cast<BatchNormKernel*>(kernel)->epsilon;
  Tensor x, gamma, beta, y, mean, var, saved, rstd;
  if (!Input(ctx, 0, &x) || !Input(ctx, 1, &gamma) || !Input(ctx, 2, &beta)) return;
  const int64_t c = x.channels();
  const int64_t rows = c == 0 ? 0 : x.size() / c;
  if (!Output(ctx, 0, x.dims(), &y) || !Output(ctx, 1, {c}, &mean) || !Output(ctx, 2, {c}, &var) ||
      !Output(ctx, 3, {c}, &saved) || !Output(ctx, 4, {c}, &rstd))
    return;
  const float* X = x.data();
  float* M = mean.data();
  float* V = var.data();
  float* R = rstd.data();
  std::vector<double> sum;
  ChannelSums(rows, c, 1, &sum, [&](int64_t r, double* acc) {
    const float* xr = X + r * c;
    for (int64_t j = 0; j < c; j++) acc[j] += xr[j];
  });
  for (int64_t j = 0; j < c; j++) M[j] = static_cast<float>(sum[j] / rows);
  ChannelSums(rows, c, 1, &sum, [&](int64_t r, double* acc) {
    const float* xr = X + r * c;
    for (int64_t j = 0; j < c; j++) {
      const float d = xr[j] - M[j];
      acc[j] += static_cast<double>(d) * d;
    }
  });
  std::vector<float> scale(c);
  const float* G = gamma.data();
  for (int64_t j = 0; j < c; j++) {
    V[j] = static_cast<float>(sum[j] / rows);
    R[j] = 1.0f / std::sqrt(V[j] + eps);
    scale[j] = R[j] * G[j];
  }
  std::memcpy(saved.data(), M, c * sizeof(float));
  const float* B = beta.data();
  float* Y = y.data();
  ForRows(rows, c, [&](int64_t r) {
    const float* xr = X + r * c;
    float* yr = Y + r * c;
    for (int64_t j = 0; j < c; j++) yr[j] = (xr[j] - M[j]) * scale[j] + B[j];
  });
}

// LthBatchNormGrad(dy, x, gamma, saved_mean, rstd) -> dx, dgamma, dbeta:
// dbeta = sum dy, dgamma = rstd * sum(dy * xc), dx = a dy + bc xc + cc (xc = x - mean), with
// a = gamma rstd, bc = a rstd dgamma / -n, cc = a dbeta / -n, as the composed gradient.
void ComputeBatchNormGrad(void*, TF_OpKernelContext* ctx) {
  Tensor dy, x, gamma, mean, rstd, dx, dgamma, dbeta;
  if (!Input(ctx, 0, &dy) || !Input(ctx, 1, &x) || !Input(ctx, 2, &gamma) || !Input(ctx, 3, &mean) || !Input(ctx, 4, &rstd)) return;
  const int64_t c = x.channels();
  const int64_t rows = c == 0 ? 0 : x.size() / c;
  if (!Output(ctx, 0, x.dims(), &dx) || !Output(ctx, 1, {c}, &dgamma) || !Output(ctx, 2, {c}, &dbeta)) return;
  const float* DY = dy.data();
  const float* X = x.data();
  const float* M = mean.data();
  const float* R = rstd.data();
  const float* G = gamma.data();
  std::vector<double> sums;
  ChannelSums(rows, c, 2, &sums, [&](int64_t r, double* acc) {
    const float* dr = DY + r * c;
    const float* xr = X + r * c;
    for (int64_t j = 0; j < c; j++) {
      acc[j] += dr[j];
      acc[c + j] += dr[j] * (xr[j] - M[j]);
    }
  });
  float* DG = dgamma.data();
  float* DB = dbeta.data();
  const float inv = static_cast<float>(-1.0 / rows);
  std::vector<float> a(c), bc(c), cc(c);
  for (int64_t j = 0; j < c; j++) {
    DB[j] = static_cast<float>(sums[j]);
    DG[j] = static_cast<float>(sums[c + j]) * R[j];
    a[j] = G[j] * R[j];
    bc[j] = a[j] * (R[j] * (DG[j] * inv));
    cc[j] = a[j] * (DB[j] * inv);
  }
  float* DX = dx.data();
  ForRows(rows, c, [&](int64_t r) {
    const float* dr = DY + r * c;
    const float* xr = X + r * c;
    float* out = DX + r * c;
    for (int64_t j = 0; j < c; j++) out[j] = (dr[j] * a[j] + (xr[j] - M[j]) * bc[j]) + cc[j];
  });
}

// ---------------------------------------------------------------- optimizer update

enum class Kind { kSgd, kMomentum, kNesterov, kAdam };

struct OptimizerKernel {
  Kind kind;
  bool has_mask, has_s1, has_s2, has_wd;
  float lr, wd, momentum, b1, b2, c1, c2, bc2, eps, step;
};

void* CreateOptimizer(TF_OpKernelConstruction* ctx) {
  auto* k = new OptimizerKernel{};
  Status s;
  char kind[16] = {0};
  TF_OpKernelConstruction_GetAttrString(ctx, "kind", kind, sizeof(kind) - 1, s.s);
  const std::string name(kind);
  k->kind = name == "sgd" ? Kind::kSgd : name == "momentum" ? Kind::kMomentum : name == "nesterov" ? Kind::kNesterov : Kind::kAdam;
  const char* flags[] = {"has_mask", "has_s1", "has_s2"};
  bool* dest[] = {&k->has_mask, &k->has_s1, &k->has_s2};
  for (int i = 0; i < 3; i++) {
    TF_Bool b = 0;
    TF_OpKernelConstruction_GetAttrBool(ctx, flags[i], &b, s.s);
    *dest[i] = b != 0;
  }
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  k->lr = FloatAttr(ctx, "lr");
  k->wd = FloatAttr(ctx, "wd");
  k->has_wd = k->wd > 0;
  k->momentum = FloatAttr(ctx, "momentum");
  k->b1 = FloatAttr(ctx, "b1");
  k->b2 = FloatAttr(ctx, "b2");
  k->c1 = FloatAttr(ctx, "c1");
  k->c2 = FloatAttr(ctx, "c2");
  k->bc2 = FloatAttr(ctx, "bc2");
  k->eps = FloatAttr(ctx, "eps");
  k->step = FloatAttr(ctx, "step");
  return k;
}

void DeleteOptimizer(void* k) { delete static_cast<OptimizerKernel*>(k); }

struct Streams {
  const float *p, *g, *mask, *s1, *s2;
  float *np, *o1, *o2;
};

// One block of elements, specialised on the update's kind and its optional inputs so that the
// compiler vectorises the loop (one IEEE operation per lane: the same bits as the scalar order).
template <Kind K, bool kMask, bool kS1, bool kS2, bool kWd>
LTH_VECTOR_CLONES void UpdateBlock(const OptimizerKernel& k, const Streams& s, int64_t begin, int64_t end) {
  const float lr = k.lr, wd = k.wd, mom = k.momentum, b1 = k.b1, b2 = k.b2, c1 = k.c1, c2 = k.c2, bc2 = k.bc2, eps = k.eps, step = k.step;
  const float *P = s.p, *G = s.g, *MK = s.mask, *S1 = s.s1, *S2 = s.s2;
  float *NP = s.np, *O1 = s.o1, *O2 = s.o2;
  // Outputs are fresh buffers: no stream overlaps another, so the loop vectorises without the
  // run-time overlap checks that GCC gives up on beyond a few streams.
#pragma GCC ivdep
  for (int64_t i = begin; i < end; i++) {
    float gi = G[i];
    if (kMask) gi = gi * MK[i];
    if (kWd) gi = gi + P[i] * wd;
    float upd;
    if (K == Kind::kSgd) {
      upd = gi * lr;
    } else if (K == Kind::kMomentum || K == Kind::kNesterov) {
      const float buf = kS1 ? S1[i] * mom + gi : gi;
      O1[i] = buf;
      upd = K == Kind::kMomentum ? buf * lr : (gi + buf * mom) * lr;
    } else {
      const float m = kS1 ? S1[i] * b1 + gi * c1 : gi * c1;
      const float g2 = gi * gi;
      const float v = kS2 ? S2[i] * b2 + g2 * c2 : g2 * c2;
      O1[i] = m;
      O2[i] = v;
      upd = (m * step) / (std::sqrt(v / bc2) + eps);
    }
    float out = P[i] - upd;
    if (kMask) out = out * MK[i];
    NP[i] = out;
  }
}

using BlockFn = void (*)(const OptimizerKernel&, const Streams&, int64_t, int64_t);

template <Kind K, bool kMask, bool kS1, bool kS2>
BlockFn PickWd(bool wd) { return wd ? &UpdateBlock<K, kMask, kS1, kS2, true> : &UpdateBlock<K, kMask, kS1, kS2, false>; }

template <Kind K, bool kMask, bool kS1>
BlockFn PickS2(bool s2, bool wd) { return s2 ? PickWd<K, kMask, kS1, true>(wd) : PickWd<K, kMask, kS1, false>(wd); }

template <Kind K, bool kMask>
BlockFn PickS1(bool s1, bool s2, bool wd) { return s1 ? PickS2<K, kMask, true>(s2, wd) : PickS2<K, kMask, false>(s2, wd); }

template <Kind K>
BlockFn PickMask(const OptimizerKernel& k) {
  return k.has_mask ? PickS1<K, true>(k.has_s1, k.has_s2, k.has_wd) : PickS1<K, false>(k.has_s1, k.has_s2, k.has_wd);
}

BlockFn Pick(const OptimizerKernel& k) {
  switch (k.kind) {
    case Kind::kSgd: return PickMask<Kind::kSgd>(k);
    case Kind::kMomentum: return PickMask<Kind::kMomentum>(k);
    case Kind::kNesterov: return PickMask<Kind::kNesterov>(k);
    default: return PickMask<Kind::kAdam>(k);
  }
}

// LthOptimizerUpdate(p, g, extra: [mask][, s1][, s2]) -> new p[, s1[, s2]]: the loops of
// src/nn/kernels/optimizer.ts, operation for operation.
void ComputeOptimizer(void* kernel, TF_OpKernelContext* ctx) {
  const OptimizerKernel& k = *static_cast<OptimizerKernel*>(kernel);
  Tensor p, g, mask, s1, s2, np, o1, o2;
  int in = 2;
  if (!Input(ctx, 0, &p) || !Input(ctx, 1, &g)) return;
  if (k.has_mask && !Input(ctx, in++, &mask)) return;
  if (k.has_s1 && !Input(ctx, in++, &s1)) return;
  if (k.has_s2 && !Input(ctx, in++, &s2)) return;
  const int outs = k.kind == Kind::kSgd ? 1 : k.kind == Kind::kAdam ? 3 : 2;
  if (!Output(ctx, 0, p.dims(), &np) || (outs > 1 && !Output(ctx, 1, p.dims(), &o1)) || (outs > 2 && !Output(ctx, 2, p.dims(), &o2))) return;
  const Streams st{p.data(), g.data(), k.has_mask ? mask.data() : nullptr, k.has_s1 ? s1.data() : nullptr, k.has_s2 ? s2.data() : nullptr,
                   np.data(), outs > 1 ? o1.data() : nullptr, outs > 2 ? o2.data() : nullptr};
  const BlockFn block = Pick(k);
  const int64_t n = p.size();
  const int64_t chunk = 16384;
  pool().Run((n + chunk - 1) / chunk, [&](int64_t b) { block(k, st, b * chunk, std::min(n, (b + 1) * chunk)); });
}

// ---------------------------------------------------------------- registration

void UnknownShape(TF_ShapeInferenceContext* ctx, TF_Status* status) { TF_ShapeInferenceContextSetUnknownShape(ctx, status); }

bool RegisterOp(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
                std::initializer_list<const char*> attrs, TF_Status* s) {
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(name);
  for (const char* i : inputs) TF_OpDefinitionBuilderAddInput(b, i);
  for (const char* o : outputs) TF_OpDefinitionBuilderAddOutput(b, o);
  for (const char* a : attrs) TF_OpDefinitionBuilderAddAttr(b, a);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(b, &UnknownShape);
  TF_RegisterOpDefinition(b, s);
  return TF_GetCode(s) == TF_OK;
}

bool RegisterKernel(const char* op, void* (*create)(TF_OpKernelConstruction*), void (*compute)(void*, TF_OpKernelContext*),
                    void (*del)(void*), TF_Status* s) {
  TF_KernelBuilder* b = TF_NewKernelBuilder(op, "CPU", create, compute, del);
  TF_RegisterKernelBuilder((std::string(op) + "Cpu").c_str(), b, s);
  return TF_GetCode(s) == TF_OK;
}

bool RegisterAll(TF_Status* s) {
  return RegisterOp("LthBatchNorm", {"x: float", "gamma: float", "beta: float"},
                    {"y: float", "mean: float", "variance: float", "saved_mean: float", "rstd: float"}, {"epsilon: float"}, s) &&
         RegisterKernel("LthBatchNorm", CreateBatchNorm, ComputeBatchNorm, DeleteBatchNorm, s) &&
         RegisterOp("LthBatchNormGrad", {"dy: float", "x: float", "gamma: float", "saved_mean: float", "rstd: float"},
                    {"dx: float", "dgamma: float", "dbeta: float"}, {"epsilon: float"}, s) &&
         RegisterKernel("LthBatchNormGrad", CreateBatchNorm, ComputeBatchNormGrad, DeleteBatchNorm, s) &&
         RegisterOp("LthOptimizerUpdate", {"p: float", "g: float", "extra: N * float"}, {"out: M * float"},
                    {"N: int >= 0", "M: int >= 1", "kind: {'sgd', 'momentum', 'nesterov', 'adam'}", "has_mask: bool",
                     "has_s1: bool", "has_s2: bool", "lr: float", "wd: float", "momentum: float", "b1: float", "b2: float",
                     "c1: float", "c2: float", "bc2: float", "eps: float", "step: float"},
                    s) &&
         RegisterKernel("LthOptimizerUpdate", CreateOptimizer, ComputeOptimizer, DeleteOptimizer, s);
}

napi_value Init(napi_env env, napi_value exports) {
  // require() runs this once per process (Node caches the module); the registry would refuse a second registration.
  TF_Status* s = TF_NewStatus();
  const bool ok = RegisterAll(s);
  const std::string message = ok ? "" : std::string("registering the lth ops failed: ") + TF_Message(s);
  TF_DeleteStatus(s);
  if (!ok) {
    napi_throw_error(env, nullptr, message.c_str());
    return nullptr;
  }
  napi_value digest;
  napi_create_string_utf8(env, LTH_OPS_DIGEST, NAPI_AUTO_LENGTH, &digest);
  napi_set_named_property(env, exports, "digest", digest);
  return exports;
}

}  // namespace

NAPI_MODULE(lth_ops, Init)
