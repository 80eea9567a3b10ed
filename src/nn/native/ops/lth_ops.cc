// Our own TensorFlow kernels for the native backend, the counterpart of the WASM SIMD kernels
// (src/nn/kernels/simd/): a training-mode batch norm pair and the masked optimizer update, each
// one op where tfjs-node would run 8 to 17 element-wise ops, each with its own dispatch and its
// own full-size allocation; a model's batch norm layer in training as one op each way, with its
// running averages' update and a following ReLU (or residual sum and ReLU) fused in
// (LthBatchNormTrain); and a fully connected network's whole training step (forward,
// loss, backward, masked update) as one op, where tfjs-node would run ~80 ops whose dispatch was
// most of a LeNet step. Measured on ResNet-20 (batch 128) and LeNet-300-100 (batch 60):
// bench/RESULTS.md.
//
// Written by hand because no library has them: TensorFlow's FusedBatchNormV3 is one op too, but
// under oneDNN its forward pass computes y as x * scale + shift and its gradient departs from the
// other backends' by up to 1e-2 of the largest value in ResNet-20 (where dy is nearly constant
// per channel and the formula cancels); and TensorFlow's optimizer ops update resource variables,
// which the tfjs binding does not hold.
//
// They are registered through TensorFlow's C kernel API (tensorflow/c/kernels.h, ops.h, exported
// by libtensorflow_framework.so.2), so only the C headers the binding already needs are used, and
// Eigen's (header-only, from the same wheel) for the dense step's matrix products. The
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
// - the variance is two-pass (sum of (x - mean)^2), y = (x - mean) * (rstd * gamma) + beta;
// - the dense step's matrix products are Eigen's (TensorFlow's MatMul is oneDNN's here): another
//   summation order, so float rounding apart from the composed step, deterministic.
//
// Threads: TF_NUM_INTRAOP_THREADS (which the backend sets to the stage's cores) workers share the
// blocks of one op; the C kernel API does not expose TensorFlow's own intra-op pool. The dense
// step runs on the calling thread (LeNet-size products are too small to gain from a second one).

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

#include <Eigen/Core>

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

void Fail(TF_OpKernelContext* ctx, const char* message) {
  TF_Status* s = TF_NewStatus();
  TF_SetStatus(s, TF_INVALID_ARGUMENT, message);
  TF_OpKernelContext_Failure(ctx, s);
  TF_DeleteStatus(s);
}

// Per-channel sums over blocks of rows, in double, blocks added in order. A block accumulates in
// its thread's own buffer and stores its sums once at the end: accumulating in place, next to the
// block another thread sums (16 channels' sums are 128 bytes), made the threads fight over cache
// lines on every row (ResNet-20's first stage ran slower on 2 threads than on 1). The same additions
// in the same order either way.
template <typename F>
void ChannelSums(int64_t rows, int64_t c, int sums, std::vector<double>* out, F add_row) {
  const int64_t rpb = RowsPerBlock(c);
  const int64_t blocks = (rows + rpb - 1) / rpb;
  const size_t width = static_cast<size_t>(sums * c);
  std::vector<double> part(static_cast<size_t>(blocks) * width, 0.0);
  pool().Run(blocks, [&](int64_t b) {
    thread_local std::vector<double> local;
    local.assign(width, 0.0);
    double* acc = local.data();
    for (int64_t r = b * rpb, end = std::min(rows, r + rpb); r < end; r++) add_row(r, acc);
    std::memcpy(part.data() + b * width, acc, width * sizeof(double));
  });
  out->assign(width, 0.0);
  for (int64_t b = 0; b < blocks; b++)
    for (size_t i = 0; i < width; i++) (*out)[i] += part[b * width + i];
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
// The batch's mean per channel into M, and the sums of squared deviations from it into *sq: the
// training-mode statistics of both batch-norm forward ops, in double over fixed blocks of rows.
void BatchStatistics(int64_t rows, int64_t c, const float* X, float* M, std::vector<double>* sq) {
  ChannelSums(rows, c, 1, sq, [&](int64_t r, double* acc) {
    const float* xr = X + r * c;
    for (int64_t j = 0; j < c; j++) acc[j] += xr[j];
  });
  for (int64_t j = 0; j < c; j++) M[j] = static_cast<float>((*sq)[j] / rows);
  ChannelSums(rows, c, 1, sq, [&](int64_t r, double* acc) {
    const float* xr = X + r * c;
    for (int64_t j = 0; j < c; j++) {
      const float d = xr[j] - M[j];
      acc[j] += static_cast<double>(d) * d;
    }
  });
}

// From the per-channel sums of dy and dy * xc (sums[j], sums[c + j]): dbeta, dgamma, and the
// coefficients of dx = a dy + bc xc + cc, as the composed gradient computes them (both gradient ops).
void GradCoefficients(int64_t rows, int64_t c, const std::vector<double>& sums, const float* R, const float* G, float* DG, float* DB,
                      float* a, float* bc, float* cc) {
  const float inv = static_cast<float>(-1.0 / rows);
  for (int64_t j = 0; j < c; j++) {
    DB[j] = static_cast<float>(sums[j]);
    DG[j] = static_cast<float>(sums[c + j]) * R[j];
    a[j] = G[j] * R[j];
    bc[j] = a[j] * (R[j] * (DG[j] * inv));
    cc[j] = a[j] * (DB[j] * inv);
  }
}

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
  BatchStatistics(rows, c, X, M, &sum);
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
  std::vector<float> a(c), bc(c), cc(c);
  GradCoefficients(rows, c, sums, R, G, dgamma.data(), dbeta.data(), a.data(), bc.data(), cc.data());
  float* DX = dx.data();
  ForRows(rows, c, [&](int64_t r) {
    const float* dr = DY + r * c;
    const float* xr = X + r * c;
    float* out = DX + r * c;
    for (int64_t j = 0; j < c; j++) out[j] = (dr[j] * a[j] + (xr[j] - M[j]) * bc[j]) + cc[j];
  });
}

// LthBatchNormTrain(x, gamma, beta, running_mean, running_var, residual: N * float) -> y, new
// running_mean, new running_var, saved_mean, rstd: the training-mode batch norm of a model's layer
// in one op. The same batch statistics and bn(x) as LthBatchNorm, and:
// - the running averages' update, folded in (one op instead of six tiny ones per layer):
//   running * keep + batch * m, with keep = 1 - m, m and var_m = m n / (n - 1) (n rows) given as
//   float attributes (the float32 scalars the composed update multiplies by: the same bits);
// - with `relu`, y = max(0, bn(x)): the ReLU that follows the batch norm in the model, one pass
//   over the activations fewer (a batch norm directly followed by ReLU: src/nn/models/layers.ts);
// - with a residual input r (N = 1, with relu), y = max(0, bn(x) + r): the end of a residual
//   block whose main path ends with the batch norm (the sum and its ReLU, two passes fewer).
// Its gradient op zeroes dy where y would be <= 0 before the ReLU.
struct BatchNormTrainKernel {
  float epsilon, keep, m, var_m;
  bool relu;
  int64_t residual;
};

bool ReluAttr(TF_OpKernelConstruction* ctx) {
  Status s;
  TF_Bool b = 0;
  TF_OpKernelConstruction_GetAttrBool(ctx, "relu", &b, s.s);
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  return b != 0;
}

int64_t IntAttr(TF_OpKernelConstruction* ctx, const char* name) {
  Status s;
  int64_t v = 0;
  TF_OpKernelConstruction_GetAttrInt64(ctx, name, &v, s.s);
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  return v;
}

void* CreateBatchNormTrain(TF_OpKernelConstruction* ctx) {
  return new BatchNormTrainKernel{FloatAttr(ctx, "epsilon"), FloatAttr(ctx, "keep"), FloatAttr(ctx, "m"), FloatAttr(ctx, "var_m"), ReluAttr(ctx), IntAttr(ctx, "N")};
}
void* CreateBatchNormTrainGrad(TF_OpKernelConstruction* ctx) { return new BatchNormTrainKernel{0, 0, 0, 0, ReluAttr(ctx), IntAttr(ctx, "N")}; }
void DeleteBatchNormTrain(void* k) { delete static_cast<BatchNormTrainKernel*>(k); }

// y = (x - mean) * scale + beta [+ r], then max(0, y) with kRelu: one IEEE operation at a time,
// so the gradient op recomputes the same bits (without r).
template <bool kRelu, bool kRes>
void BatchNormOutput(int64_t rows, int64_t c, const float* X, const float* M, const float* scale, const float* B, const float* RS, float* Y) {
  ForRows(rows, c, [&](int64_t r) {
    const float* xr = X + r * c;
    const float* rr = kRes ? RS + r * c : nullptr;
    float* yr = Y + r * c;
    for (int64_t j = 0; j < c; j++) {
      float v = (xr[j] - M[j]) * scale[j] + B[j];
      if (kRes) v = v + rr[j];
      yr[j] = kRelu ? (v > 0.0f ? v : 0.0f) : v;
    }
  });
}

void ComputeBatchNormTrain(void* kernel, TF_OpKernelContext* ctx) {
  const BatchNormTrainKernel& k = *static_cast<BatchNormTrainKernel*>(kernel);
  Tensor x, gamma, beta, rmean, rvar, res, y, nmean, nvar, saved, rstd;
  if (!Input(ctx, 0, &x) || !Input(ctx, 1, &gamma) || !Input(ctx, 2, &beta) || !Input(ctx, 3, &rmean) || !Input(ctx, 4, &rvar)) return;
  if (k.residual > 1 || (k.residual == 1 && !k.relu)) return Fail(ctx, "LthBatchNormTrain: one residual input at most, and only with relu");
  if (k.residual == 1 && !Input(ctx, 5, &res)) return;
  const int64_t c = x.channels();
  const int64_t rows = c == 0 ? 0 : x.size() / c;
  if (gamma.size() != c || beta.size() != c || rmean.size() != c || rvar.size() != c) return Fail(ctx, "LthBatchNormTrain: a per-channel input does not fit x's channels");
  if (res.t && res.dims() != x.dims()) return Fail(ctx, "LthBatchNormTrain: the residual input's shape is not x's");
  if (!Output(ctx, 0, x.dims(), &y) || !Output(ctx, 1, {c}, &nmean) || !Output(ctx, 2, {c}, &nvar) || !Output(ctx, 3, {c}, &saved) ||
      !Output(ctx, 4, {c}, &rstd))
    return;
  const float* X = x.data();
  float* M = saved.data();
  float* R = rstd.data();
  std::vector<double> sum;
  BatchStatistics(rows, c, X, M, &sum);
  std::vector<float> scale(c);
  const float* G = gamma.data();
  const float* RM = rmean.data();
  const float* RV = rvar.data();
  float* NM = nmean.data();
  float* NV = nvar.data();
  for (int64_t j = 0; j < c; j++) {
    const float v = static_cast<float>(sum[j] / rows);
    R[j] = 1.0f / std::sqrt(v + k.epsilon);
    scale[j] = R[j] * G[j];
    NM[j] = RM[j] * k.keep + M[j] * k.m;
    NV[j] = RV[j] * k.keep + v * k.var_m;
  }
  if (res.t)
    BatchNormOutput<true, true>(rows, c, X, M, scale.data(), beta.data(), res.data(), y.data());
  else if (k.relu)
    BatchNormOutput<true, false>(rows, c, X, M, scale.data(), beta.data(), nullptr, y.data());
  else
    BatchNormOutput<false, false>(rows, c, X, M, scale.data(), beta.data(), nullptr, y.data());
}

// keep ? g : 0.0f, as a bit mask: the same value, without the branch that keeps GCC from
// vectorising a loop that adds the result into double sums.
inline float KeepWhere(bool keep, float g) {
  uint32_t u;
  std::memcpy(&u, &g, sizeof u);
  u &= 0u - static_cast<uint32_t>(keep);
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

// How the gradient op knows where the ReLU passed dy: not at all (no ReLU), from bn(x) recomputed
// as the forward op computed it (the same bits; nothing more is read), or from the op's output y
// (with a residual input: y > 0 exactly where bn(x) + r > 0).
enum class Gate { kNone, kRecompute, kOutput };

// LthBatchNormTrainGrad(dy, x, gamma, beta, saved_mean, rstd, y: N * float) -> dx, dgamma, dbeta,
// dr: N * float: LthBatchNormGrad's formulas applied to dz = dy where the ReLU passed (else 0);
// with a residual input (N = 1: y is the forward op's output), also its gradient dr = dz.
template <Gate kGate>
void BatchNormTrainGrad(TF_OpKernelContext* ctx) {
  Tensor dy, x, gamma, beta, mean, rstd, out, dx, dgamma, dbeta, dr;
  if (!Input(ctx, 0, &dy) || !Input(ctx, 1, &x) || !Input(ctx, 2, &gamma) || !Input(ctx, 3, &beta) || !Input(ctx, 4, &mean) || !Input(ctx, 5, &rstd)) return;
  if (kGate == Gate::kOutput && !Input(ctx, 6, &out)) return;
  const int64_t c = x.channels();
  const int64_t rows = c == 0 ? 0 : x.size() / c;
  if (dy.size() != x.size() || (out.t && out.size() != x.size())) return Fail(ctx, "LthBatchNormTrainGrad: dy or y does not fit x");
  if (!Output(ctx, 0, x.dims(), &dx) || !Output(ctx, 1, {c}, &dgamma) || !Output(ctx, 2, {c}, &dbeta)) return;
  if (kGate == Gate::kOutput && !Output(ctx, 3, x.dims(), &dr)) return;
  const float* DY = dy.data();
  const float* X = x.data();
  const float* M = mean.data();
  const float* R = rstd.data();
  const float* G = gamma.data();
  const float* B = beta.data();
  const float* Y = kGate == Gate::kOutput ? out.data() : nullptr;
  float* DR = kGate == Gate::kOutput ? dr.data() : nullptr;
  std::vector<float> scale(c);
  for (int64_t j = 0; j < c; j++) scale[j] = R[j] * G[j];
  const float* S = scale.data();
  std::vector<double> sums;
  ChannelSums(rows, c, 2, &sums, [&](int64_t r, double* acc) {
    const float* dr = DY + r * c;
    const float* xr = X + r * c;
    const float* yr = kGate == Gate::kOutput ? Y + r * c : nullptr;
    float* drr = kGate == Gate::kOutput ? DR + r * c : nullptr;
    for (int64_t j = 0; j < c; j++) {
      const float xc = xr[j] - M[j];
      float d = dr[j];
      if (kGate == Gate::kRecompute) d = KeepWhere(xc * S[j] + B[j] > 0.0f, d);
      if (kGate == Gate::kOutput) {
        d = KeepWhere(yr[j] > 0.0f, d);
        drr[j] = d;
      }
      acc[j] += d;
      acc[c + j] += d * xc;
    }
  });
  std::vector<float> a(c), bc(c), cc(c);
  GradCoefficients(rows, c, sums, R, G, dgamma.data(), dbeta.data(), a.data(), bc.data(), cc.data());
  float* DX = dx.data();
  ForRows(rows, c, [&](int64_t r) {
    // With a residual input, dz was written to dr by the pass above: read back, not recomputed.
    const float* dr = kGate == Gate::kOutput ? DR + r * c : DY + r * c;
    const float* xr = X + r * c;
    float* o = DX + r * c;
    for (int64_t j = 0; j < c; j++) {
      const float xc = xr[j] - M[j];
      float d = dr[j];
      if (kGate == Gate::kRecompute) d = KeepWhere(xc * S[j] + B[j] > 0.0f, d);
      o[j] = (d * a[j] + xc * bc[j]) + cc[j];
    }
  });
}

void ComputeBatchNormTrainGrad(void* kernel, TF_OpKernelContext* ctx) {
  const BatchNormTrainKernel& k = *static_cast<BatchNormTrainKernel*>(kernel);
  if (k.residual > 1 || (k.residual == 1 && !k.relu)) return Fail(ctx, "LthBatchNormTrainGrad: one residual at most, and only with relu");
  if (k.residual == 1)
    BatchNormTrainGrad<Gate::kOutput>(ctx);
  else if (k.relu)
    BatchNormTrainGrad<Gate::kRecompute>(ctx);
  else
    BatchNormTrainGrad<Gate::kNone>(ctx);
}

// ---------------------------------------------------------------- optimizer update

enum class Kind { kSgd, kMomentum, kNesterov, kAdam };

struct OptimizerKernel {
  Kind kind;
  bool has_mask, has_s1, has_s2, has_wd;
  float lr, wd, momentum, b1, b2, c1, c2, bc2, eps, step;
};

// The attributes both optimizer ops take: the kind and the constant coefficients.
void ReadOptimizerAttrs(TF_OpKernelConstruction* ctx, OptimizerKernel* k) {
  Status s;
  char kind[16] = {0};
  TF_OpKernelConstruction_GetAttrString(ctx, "kind", kind, sizeof(kind) - 1, s.s);
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  const std::string name(kind);
  k->kind = name == "sgd" ? Kind::kSgd : name == "momentum" ? Kind::kMomentum : name == "nesterov" ? Kind::kNesterov : Kind::kAdam;
  k->wd = FloatAttr(ctx, "wd");
  k->has_wd = k->wd > 0;
  k->momentum = FloatAttr(ctx, "momentum");
  k->b1 = FloatAttr(ctx, "b1");
  k->b2 = FloatAttr(ctx, "b2");
  k->c1 = FloatAttr(ctx, "c1");
  k->c2 = FloatAttr(ctx, "c2");
  k->eps = FloatAttr(ctx, "eps");
}

void* CreateOptimizer(TF_OpKernelConstruction* ctx) {
  auto* k = new OptimizerKernel{};
  ReadOptimizerAttrs(ctx, k);
  Status s;
  const char* flags[] = {"has_mask", "has_s1", "has_s2"};
  bool* dest[] = {&k->has_mask, &k->has_s1, &k->has_s2};
  for (int i = 0; i < 3; i++) {
    TF_Bool b = 0;
    TF_OpKernelConstruction_GetAttrBool(ctx, flags[i], &b, s.s);
    *dest[i] = b != 0;
  }
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
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

// The coefficients that change from step to step: an input [lr, step (lr / bias correction 1),
// bias correction 2], not attributes: TensorFlow's eager runtime builds and caches a kernel for
// every new set of attribute values, so per-step attributes cost a kernel construction per
// parameter per step and ~5 KB of memory each, never freed (measured: +39 MB over 8,000 steps of
// one tensor's update).
bool Hyper(TF_OpKernelContext* ctx, int i, OptimizerKernel* k) {
  Tensor hyper;
  if (!Input(ctx, i, &hyper)) return false;
  if (hyper.size() != 3) {
    Fail(ctx, "hyper must hold lr, step and bc2");
    return false;
  }
  const float* H = hyper.data();
  k->lr = H[0];
  k->step = H[1];
  k->bc2 = H[2];
  return true;
}

// LthOptimizerUpdate(p, g, hyper, extra: [mask][, s1][, s2]) -> new p[, s1[, s2]]: the loops of
// src/nn/kernels/optimizer.ts, operation for operation.
void ComputeOptimizer(void* kernel, TF_OpKernelContext* ctx) {
  OptimizerKernel k = *static_cast<OptimizerKernel*>(kernel);
  Tensor p, g, mask, s1, s2, np, o1, o2;
  int in = 3;
  if (!Input(ctx, 0, &p) || !Input(ctx, 1, &g) || !Hyper(ctx, 2, &k)) return;
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

// ---------------------------------------------------------------- fully connected training step

// LthDenseTrainStep(x [B, ...], labels [B] int32, hyper [3], t: N * float) -> loss [], out: M * float
//
// A whole training step of a network made only of dense layers with ReLU between them (LeNet-300-100,
// any mnist_lenet_*: src/nn/native/dense-step.ts checks the layer structure): forward pass, mean
// softmax cross-entropy, backward pass, and the masked optimizer update of every parameter, in one
// op instead of ~80 tfjs ops, each with its dispatch (tfjs-core's engine, the binding, TensorFlow's
// eager runtime: most of a LeNet step's time, bench/RESULTS.md).
//
// The function is the composed step's: h = relu(h W + b) layer by layer, logits = h W + b for the
// last, loss = -mean(logsoftmax(logits)[label]); its gradient; then per parameter the loops of
// LthOptimizerUpdate (UpdateBlock above, the same code: the same bits given the same gradient).
// The matrix products are Eigen's (the headers TensorFlow's own MatMul is built from, from the
// wheel), on the calling thread: float32, other summation orders than oneDNN's, so results agree
// with the composed step's to float rounding, and are the same bits from run to run.
//
// `params` (an attribute, so one kernel serves every step) says, per parameter in layer order
// (kernel, then its bias if any): bit 1 a kernel (else the bias of the kernel before it), bit 2 it
// has a mask, bit 4 it has s1, bit 8 s2. `t` holds per parameter p, [mask], [s1], [s2]; `out` per
// parameter the new p, then the new s1 and s2 as the optimizer keeps them. `hyper` = lr, the
// step (lr / bias correction 1), bias correction 2: they change every step, so they are an input,
// not attributes (see Hyper above).

struct DenseStepKernel {
  OptimizerKernel opt;
  std::vector<int64_t> params;
};

void* CreateDenseStep(TF_OpKernelConstruction* ctx) {
  auto* k = new DenseStepKernel{};
  ReadOptimizerAttrs(ctx, &k->opt);
  Status s;
  int32_t n = 0, total = 0;
  TF_OpKernelConstruction_GetAttrSize(ctx, "params", &n, &total, s.s);
  if (s.ok()) {
    k->params.resize(n);
    TF_OpKernelConstruction_GetAttrInt64List(ctx, "params", k->params.data(), n, s.s);
  }
  if (!s.ok()) TF_OpKernelConstruction_Failure(ctx, s.s);
  return k;
}

void DeleteDenseStep(void* k) { delete static_cast<DenseStepKernel*>(k); }

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMat = Eigen::Map<const RowMajor>;
using Mat = Eigen::Map<RowMajor>;

struct DenseParam {
  Tensor p, mask, s1, s2;
  int64_t flags;
};

struct DenseLayer {
  DenseParam* kernel = nullptr;
  DenseParam* bias = nullptr;
  int64_t in = 0, out = 0;
};

enum : int64_t { kIsKernel = 1, kHasMask = 2, kHasS1 = 4, kHasS2 = 8 };

void ComputeDenseStep(void* kernel, TF_OpKernelContext* ctx) {
  const DenseStepKernel& k = *static_cast<DenseStepKernel*>(kernel);
  OptimizerKernel opt = k.opt;
  Tensor x, labels;
  if (!Input(ctx, 0, &x) || !Input(ctx, 1, &labels) || !Hyper(ctx, 2, &opt)) return;
  std::vector<DenseParam> params(k.params.size());
  std::vector<DenseLayer> layers;
  int in = 3;
  for (size_t i = 0; i < params.size(); i++) {
    DenseParam& q = params[i];
    q.flags = k.params[i];
    if (!Input(ctx, in++, &q.p)) return;
    if ((q.flags & kHasMask) && !Input(ctx, in++, &q.mask)) return;
    if ((q.flags & kHasS1) && !Input(ctx, in++, &q.s1)) return;
    if ((q.flags & kHasS2) && !Input(ctx, in++, &q.s2)) return;
    for (const Tensor* e : {&q.mask, &q.s1, &q.s2})
      if (e->t && e->size() != q.p.size()) return Fail(ctx, "a mask or optimizer state does not fit its parameter");
    if (q.flags & kIsKernel) {
      if (TF_NumDims(q.p.t) != 2) return Fail(ctx, "a kernel is not a matrix");
      layers.push_back({&q, nullptr, TF_Dim(q.p.t, 0), TF_Dim(q.p.t, 1)});
    } else {
      if (layers.empty() || q.p.size() != layers.back().out) return Fail(ctx, "a bias does not follow its kernel");
      layers.back().bias = &q;
    }
  }
  const int64_t batch = TF_NumDims(x.t) == 0 ? 0 : TF_Dim(x.t, 0);
  if (layers.empty() || batch == 0 || x.size() != batch * layers[0].in || labels.size() != batch)
    return Fail(ctx, "inputs do not fit the layers");
  for (size_t l = 1; l < layers.size(); l++)
    if (layers[l].in != layers[l - 1].out) return Fail(ctx, "layer sizes do not chain");
  const int64_t classes = layers.back().out;
  const int32_t* Y = static_cast<const int32_t*>(TF_TensorData(labels.t));
  for (int64_t i = 0; i < batch; i++)
    if (Y[i] < 0 || Y[i] >= classes) return Fail(ctx, "a label is out of range");

  // Forward: z_l = h_{l-1} W_l + b_l, h_l = relu(z_l) (the last layer's z is the logits).
  const size_t L = layers.size();
  std::vector<std::vector<float>> z(L);
  std::vector<std::vector<float>> h(L);  // h[l] = relu(z[l]); the last one unused
  for (size_t l = 0; l < L; l++) {
    const DenseLayer& d = layers[l];
    z[l].resize(static_cast<size_t>(batch * d.out));
    const float* src = l == 0 ? x.data() : h[l - 1].data();
    Mat Z(z[l].data(), batch, d.out);
    Z.noalias() = ConstMat(src, batch, d.in) * ConstMat(d.kernel->p.data(), d.in, d.out);
    if (d.bias) {
      const float* B = d.bias->p.data();
      for (int64_t r = 0; r < batch; r++) {
        float* zr = z[l].data() + r * d.out;
        for (int64_t j = 0; j < d.out; j++) zr[j] = zr[j] + B[j];
      }
    }
    if (l + 1 < L) {
      h[l].resize(z[l].size());
      for (size_t i = 0; i < z[l].size(); i++) h[l][i] = z[l][i] > 0.0f ? z[l][i] : 0.0f;
    }
  }

  // Loss and its gradient: logsoftmax = (z - max) - log(sum exp(z - max)); dlogits = (softmax - onehot) / B.
  std::vector<float> dz(z[L - 1].size());
  float loss_sum = 0.0f;
  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (int64_t r = 0; r < batch; r++) {
    const float* zr = z[L - 1].data() + r * classes;
    float* gr = dz.data() + r * classes;
    float mx = zr[0];
    for (int64_t j = 1; j < classes; j++) mx = std::max(mx, zr[j]);
    float se = 0.0f;
    for (int64_t j = 0; j < classes; j++) se += std::exp(zr[j] - mx);
    const float lse = std::log(se);
    for (int64_t j = 0; j < classes; j++) {
      const float logp = (zr[j] - mx) - lse;
      gr[j] = std::exp(logp) * inv_batch - (j == Y[r] ? inv_batch : 0.0f);
      if (j == Y[r]) loss_sum += logp;
    }
  }

  // Outputs: the loss, then per parameter its new value and state.
  Tensor loss;
  if (!Output(ctx, 0, {}, &loss)) return;
  loss.data()[0] = -(loss_sum / static_cast<float>(batch));
  const int outs = k.opt.kind == Kind::kSgd ? 1 : k.opt.kind == Kind::kAdam ? 3 : 2;
  std::vector<int> first_out(params.size());
  for (size_t i = 0; i < params.size(); i++) first_out[i] = 1 + static_cast<int>(i) * outs;

  // Backward, last layer first; each parameter is updated as soon as its gradient is known.
  std::vector<float> grad, dh;
  auto update = [&](DenseParam& q, size_t index, const float* g) -> bool {
    OptimizerKernel ok = opt;
    ok.has_mask = (q.flags & kHasMask) != 0;
    ok.has_s1 = (q.flags & kHasS1) != 0;
    ok.has_s2 = (q.flags & kHasS2) != 0;
    Tensor np, o1, o2;
    const std::vector<int64_t> dims = q.p.dims();
    const int base = first_out[index];
    if (!Output(ctx, base, dims, &np) || (outs > 1 && !Output(ctx, base + 1, dims, &o1)) || (outs > 2 && !Output(ctx, base + 2, dims, &o2))) return false;
    const Streams st{q.p.data(), g, ok.has_mask ? q.mask.data() : nullptr, ok.has_s1 ? q.s1.data() : nullptr, ok.has_s2 ? q.s2.data() : nullptr,
                     np.data(), outs > 1 ? o1.data() : nullptr, outs > 2 ? o2.data() : nullptr};
    Pick(ok)(ok, st, 0, q.p.size());
    return true;
  };
  for (size_t l = L; l-- > 0;) {
    const DenseLayer& d = layers[l];
    const float* src = l == 0 ? x.data() : h[l - 1].data();
    // dW = h^T dz, db = column sums of dz.
    grad.resize(static_cast<size_t>(d.in * d.out));
    Mat(grad.data(), d.in, d.out).noalias() = ConstMat(src, batch, d.in).transpose() * ConstMat(dz.data(), batch, d.out);
    // dh = dz W^T (before W is replaced), then through ReLU: dz_prev = dh where z_prev > 0.
    if (l > 0) {
      dh.resize(static_cast<size_t>(batch * d.in));
      Mat(dh.data(), batch, d.in).noalias() = ConstMat(dz.data(), batch, d.out) * ConstMat(d.kernel->p.data(), d.in, d.out).transpose();
    }
    if (!update(*d.kernel, static_cast<size_t>(d.kernel - params.data()), grad.data())) return;
    if (d.bias) {
      std::vector<float> db(static_cast<size_t>(d.out), 0.0f);
      for (int64_t r = 0; r < batch; r++) {
        const float* gr = dz.data() + r * d.out;
        for (int64_t j = 0; j < d.out; j++) db[j] += gr[j];
      }
      if (!update(*d.bias, static_cast<size_t>(d.bias - params.data()), db.data())) return;
    }
    if (l > 0) {
      const std::vector<float>& zp = z[l - 1];
      dz.resize(dh.size());
      for (size_t i = 0; i < dh.size(); i++) dz[i] = zp[i] > 0.0f ? dh[i] : 0.0f;
    }
  }
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
         RegisterOp("LthBatchNormTrain", {"x: float", "gamma: float", "beta: float", "running_mean: float", "running_var: float", "residual: N * float"},
                    {"y: float", "new_running_mean: float", "new_running_var: float", "saved_mean: float", "rstd: float"},
                    {"epsilon: float", "keep: float", "m: float", "var_m: float", "relu: bool", "N: int >= 0"}, s) &&
         RegisterKernel("LthBatchNormTrain", CreateBatchNormTrain, ComputeBatchNormTrain, DeleteBatchNormTrain, s) &&
         RegisterOp("LthBatchNormTrainGrad", {"dy: float", "x: float", "gamma: float", "beta: float", "saved_mean: float", "rstd: float", "y: N * float"},
                    {"dx: float", "dgamma: float", "dbeta: float", "dr: N * float"}, {"relu: bool", "N: int >= 0"}, s) &&
         RegisterKernel("LthBatchNormTrainGrad", CreateBatchNormTrainGrad, ComputeBatchNormTrainGrad, DeleteBatchNormTrain, s) &&
         RegisterOp("LthOptimizerUpdate", {"p: float", "g: float", "hyper: float", "extra: N * float"}, {"out: M * float"},
                    {"N: int >= 0", "M: int >= 1", "kind: {'sgd', 'momentum', 'nesterov', 'adam'}", "has_mask: bool",
                     "has_s1: bool", "has_s2: bool", "wd: float", "momentum: float", "b1: float", "b2: float",
                     "c1: float", "c2: float", "eps: float"},
                    s) &&
         RegisterKernel("LthOptimizerUpdate", CreateOptimizer, ComputeOptimizer, DeleteOptimizer, s) &&
         RegisterOp("LthDenseTrainStep", {"x: float", "labels: int32", "hyper: float", "t: N * float"}, {"loss: float", "out: M * float"},
                    {"N: int >= 1", "M: int >= 1", "params: list(int)", "kind: {'sgd', 'momentum', 'nesterov', 'adam'}",
                     "wd: float", "momentum: float", "b1: float", "b2: float", "c1: float", "c2: float", "eps: float"},
                    s) &&
         RegisterKernel("LthDenseTrainStep", CreateDenseStep, ComputeDenseStep, DeleteDenseStep, s);
}

napi_value Init(napi_env env, napi_value exports) {
#if defined(__AVX2__) && defined(__GNUC__)
  // Built with AVX2 and FMA (setup does so where the building machine has them): not on a CPU without.
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    napi_throw_error(env, nullptr, "our TensorFlow ops were compiled for AVX2 and FMA, which this CPU lacks");
    return nullptr;
  }
#endif
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
