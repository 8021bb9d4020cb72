/* edge_sdk.ByteLookup: an ONNX Runtime custom op, y[i] = table[x[i]] for a UINT8 tensor x of any shape and a
 * UINT8 table of 256 entries. The graph rewrite qdq-silu-lookup (graph_rewrite_lut.py) uses it to run an INT8
 * SiLU (DequantizeLinear -> Sigmoid -> Q/DQ -> Mul -> QuantizeLinear, which ONNX Runtime turns into
 * QLinearSigmoid + QLinearMul: two passes) as one pass over the bytes.
 *
 * ONNX Runtime's C API is a table of function pointers whose order is its ABI (append only since 1.0). Its
 * header is not shipped in the pip wheel, so this file declares only the slots it calls, by index; the indices
 * are those of onnxruntime_c_api.h (ORT_API_VERSION 17 and later, where KernelContext_ParallelFor appeared).
 * The loader (ops/__init__.py) builds this file with the system C compiler; tests/engines/test_byte_lookup.py
 * checks every byte of the table on each code path against numpy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
/* X86_VBMI: the AVX-512 VBMI path is compiled in (chosen at run time by CPUID); -DEDGE_SDK_PORTABLE leaves only
 * the scalar loop, as on other architectures (the tests build it so to check that path compiles). */
#if defined(__x86_64__) && !defined(EDGE_SDK_PORTABLE)
#define X86_VBMI 1
#include <immintrin.h>
#endif

typedef struct OrtStatus OrtStatus;
typedef struct OrtValue OrtValue;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtShapeInferContext OrtShapeInferContext;
typedef void OrtApi; /* opaque: reached through api_slot() */

typedef struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;

enum { ORT_FAIL = 1, ORT_INVALID_ARGUMENT = 2 };
enum { TENSOR_UINT8 = 2 };
#define API_VERSION 17u   /* KernelContext_ParallelFor, ShapeInferContext_*: onnxruntime >= 1.17 */
#define OP_VERSION 17u    /* OrtCustomOp fields up to InferOutputShapeFn */

/* Slot indices in struct OrtApi. */
enum {
  SLOT_CreateStatus = 0,
  SLOT_CreateCustomOpDomain = 26,
  SLOT_CustomOpDomain_Add = 27,
  SLOT_AddCustomOpDomain = 28,
  SLOT_GetTensorMutableData = 51,
  SLOT_GetDimensionsCount = 61,
  SLOT_GetDimensions = 62,
  SLOT_GetTensorShapeElementCount = 64,
  SLOT_GetTensorTypeAndShape = 65,
  SLOT_KernelContext_GetInput = 90,
  SLOT_KernelContext_GetOutput = 91,
  SLOT_ReleaseTensorTypeAndShapeInfo = 99,
  SLOT_ShapeInferContext_GetInputTypeShape = 268,
  SLOT_ShapeInferContext_SetOutputTypeShape = 270,
  SLOT_KernelContext_ParallelFor = 274,
};

static const OrtApi* g_api;
static void* api_slot(int index) { return ((void* const*)g_api)[index]; }

#define CALL(type, slot, ...) ((type)api_slot(SLOT_##slot))(__VA_ARGS__)
typedef OrtStatus* (*CreateStatusFn)(int, const char*);
typedef OrtStatus* (*CreateDomainFn)(const char*, OrtCustomOpDomain**);
typedef OrtStatus* (*DomainAddFn)(OrtCustomOpDomain*, const void*);
typedef OrtStatus* (*AddDomainFn)(OrtSessionOptions*, OrtCustomOpDomain*);
typedef OrtStatus* (*MutableDataFn)(OrtValue*, void**);
typedef OrtStatus* (*DimsCountFn)(const OrtTensorTypeAndShapeInfo*, size_t*);
typedef OrtStatus* (*DimsFn)(const OrtTensorTypeAndShapeInfo*, int64_t*, size_t);
typedef OrtStatus* (*ElementCountFn)(const OrtTensorTypeAndShapeInfo*, size_t*);
typedef OrtStatus* (*TypeAndShapeFn)(const OrtValue*, OrtTensorTypeAndShapeInfo**);
typedef OrtStatus* (*GetInputFn)(const OrtKernelContext*, size_t, const OrtValue**);
typedef OrtStatus* (*GetOutputFn)(OrtKernelContext*, size_t, const int64_t*, size_t, OrtValue**);
typedef void (*ReleaseInfoFn)(OrtTensorTypeAndShapeInfo*);
typedef OrtStatus* (*InferInputFn)(const OrtShapeInferContext*, size_t, OrtTensorTypeAndShapeInfo**);
typedef OrtStatus* (*InferOutputFn)(const OrtShapeInferContext*, size_t, const OrtTensorTypeAndShapeInfo*);
typedef OrtStatus* (*ParallelForFn)(const OrtKernelContext*, void (*)(void*, size_t), size_t, size_t, void*);

/* ---- the lookup itself ---------------------------------------------------------------------------------- */

typedef void (*LookupFn)(const uint8_t* x, uint8_t* y, size_t n, const uint8_t* table);

static void lookup_scalar(const uint8_t* x, uint8_t* y, size_t n, const uint8_t* table) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint8_t a = table[x[i]], b = table[x[i + 1]], c = table[x[i + 2]], d = table[x[i + 3]];
    y[i] = a; y[i + 1] = b; y[i + 2] = c; y[i + 3] = d;
  }
  for (; i < n; i++) y[i] = table[x[i]];
}

#ifdef X86_VBMI
/* AVX-512 VBMI: VPERMI2B looks 64 bytes up in a 128-entry table at once; two of them cover 256 entries and the
 * top bit of each index picks between their results. */
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static void lookup_vbmi(const uint8_t* x, uint8_t* y, size_t n, const uint8_t* table) {
  const __m512i t0 = _mm512_loadu_si512((const void*)table), t1 = _mm512_loadu_si512((const void*)(table + 64));
  const __m512i t2 = _mm512_loadu_si512((const void*)(table + 128)), t3 = _mm512_loadu_si512((const void*)(table + 192));
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i idx = _mm512_loadu_si512((const void*)(x + i));
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_storeu_si512((void*)(y + i), _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
  }
  if (i < n) {
    const __mmask64 m = (1ULL << (n - i)) - 1; /* n - i < 64 */
    const __m512i idx = _mm512_maskz_loadu_epi8(m, x + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
  }
}
#endif

static LookupFn g_lookup = lookup_scalar;

/* EDGE_SDK_BYTE_LOOKUP=scalar forces the portable loop (to measure it, or to rule the vector path out). */
static void choose_lookup(void) {
  const char* forced = getenv("EDGE_SDK_BYTE_LOOKUP");
  if (forced && strcmp(forced, "scalar") == 0) return;
#ifdef X86_VBMI
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw"))
    g_lookup = lookup_vbmi;
#endif
}

static pthread_once_t g_chosen = PTHREAD_ONCE_INIT;

#define EXPORT __attribute__((visibility("default")))

/* For the tests: which code path runs here ("avx512vbmi" or "scalar"), and one call of either on a buffer. */
EXPORT const char* edge_sdk_byte_lookup_path(void) {
  pthread_once(&g_chosen, choose_lookup);
  return g_lookup == lookup_scalar ? "scalar" : "avx512vbmi";
}
EXPORT void edge_sdk_byte_lookup(const uint8_t* x, uint8_t* y, size_t n, const uint8_t* table, int scalar) {
  pthread_once(&g_chosen, choose_lookup);
  (scalar ? lookup_scalar : g_lookup)(x, y, n, table);
}

/* ---- the kernel ------------------------------------------------------------------------------------------ */

#define CHUNK ((size_t)1 << 16) /* bytes per parallel task */

typedef struct {
  const uint8_t* x;
  uint8_t* y;
  size_t n;
  const uint8_t* table;
} Job;

static void run_chunk(void* data, size_t index) {
  const Job* job = (const Job*)data;
  const size_t start = index * CHUNK;
  const size_t end = start + CHUNK < job->n ? start + CHUNK : job->n;
  g_lookup(job->x + start, job->y + start, end - start, job->table);
}

static OrtStatus* fail(const char* msg) { return CALL(CreateStatusFn, CreateStatus, ORT_INVALID_ARGUMENT, msg); }

#define TRY(expr) do { OrtStatus* s_ = (expr); if (s_) return s_; } while (0)
#define MAX_RANK 8

static OrtStatus* compute(void* kernel, OrtKernelContext* ctx) {
  (void)kernel;
  const OrtValue *x, *table;
  TRY(CALL(GetInputFn, KernelContext_GetInput, ctx, 0, &x));
  TRY(CALL(GetInputFn, KernelContext_GetInput, ctx, 1, &table));
  OrtTensorTypeAndShapeInfo* info;
  size_t rank, n, entries;
  int64_t dims[MAX_RANK];
  TRY(CALL(TypeAndShapeFn, GetTensorTypeAndShape, table, &info));
  OrtStatus* s = CALL(ElementCountFn, GetTensorShapeElementCount, info, &entries);
  CALL(ReleaseInfoFn, ReleaseTensorTypeAndShapeInfo, info);
  if (s) return s;
  if (entries != 256) return fail("edge_sdk.ByteLookup: the table (input 1) must have 256 entries");
  TRY(CALL(TypeAndShapeFn, GetTensorTypeAndShape, x, &info));
  s = CALL(DimsCountFn, GetDimensionsCount, info, &rank);
  if (!s && rank > MAX_RANK) s = fail("edge_sdk.ByteLookup: input rank above 8");
  if (!s) s = CALL(DimsFn, GetDimensions, info, dims, rank);
  if (!s) s = CALL(ElementCountFn, GetTensorShapeElementCount, info, &n);
  CALL(ReleaseInfoFn, ReleaseTensorTypeAndShapeInfo, info);
  if (s) return s;
  OrtValue* y;
  TRY(CALL(GetOutputFn, KernelContext_GetOutput, ctx, 0, dims, rank, &y));
  void *xp, *tp, *yp;
  TRY(CALL(MutableDataFn, GetTensorMutableData, (OrtValue*)x, &xp));
  TRY(CALL(MutableDataFn, GetTensorMutableData, (OrtValue*)table, &tp));
  TRY(CALL(MutableDataFn, GetTensorMutableData, y, &yp));
  Job job = {(const uint8_t*)xp, (uint8_t*)yp, n, (const uint8_t*)tp};
  const size_t chunks = (n + CHUNK - 1) / CHUNK;
  if (chunks <= 1) {
    g_lookup(job.x, job.y, n, job.table);
    return NULL;
  }
  return CALL(ParallelForFn, KernelContext_ParallelFor, ctx, run_chunk, chunks, 0, &job);
}

/* ---- the op description (struct OrtCustomOp, fields in ABI order) ----------------------------------------- */

typedef struct OrtCustomOp {
  uint32_t version;
  void* (*CreateKernel)(const struct OrtCustomOp*, const OrtApi*, const OrtKernelInfo*);
  const char* (*GetName)(const struct OrtCustomOp*);
  const char* (*GetExecutionProviderType)(const struct OrtCustomOp*);
  int (*GetInputType)(const struct OrtCustomOp*, size_t);
  size_t (*GetInputTypeCount)(const struct OrtCustomOp*);
  int (*GetOutputType)(const struct OrtCustomOp*, size_t);
  size_t (*GetOutputTypeCount)(const struct OrtCustomOp*);
  void (*KernelCompute)(void*, OrtKernelContext*);
  void (*KernelDestroy)(void*);
  int (*GetInputCharacteristic)(const struct OrtCustomOp*, size_t);
  int (*GetOutputCharacteristic)(const struct OrtCustomOp*, size_t);
  int (*GetInputMemoryType)(const struct OrtCustomOp*, size_t);
  int (*GetVariadicInputMinArity)(const struct OrtCustomOp*);
  int (*GetVariadicInputHomogeneity)(const struct OrtCustomOp*);
  int (*GetVariadicOutputMinArity)(const struct OrtCustomOp*);
  int (*GetVariadicOutputHomogeneity)(const struct OrtCustomOp*);
  OrtStatus* (*CreateKernelV2)(const struct OrtCustomOp*, const OrtApi*, const OrtKernelInfo*, void**);
  OrtStatus* (*KernelComputeV2)(void*, OrtKernelContext*);
  OrtStatus* (*InferOutputShapeFn)(const struct OrtCustomOp*, OrtShapeInferContext*);
  int (*GetStartVersion)(const struct OrtCustomOp*);
  int (*GetEndVersion)(const struct OrtCustomOp*);
} OrtCustomOp;

static const char* op_name(const OrtCustomOp* op) { (void)op; return "ByteLookup"; }
static const char* op_provider(const OrtCustomOp* op) { (void)op; return NULL; /* CPU */ }
static int op_uint8(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return TENSOR_UINT8; }
static size_t op_two(const OrtCustomOp* op) { (void)op; return 2; }
static size_t op_one(const OrtCustomOp* op) { (void)op; return 1; }
static int op_zero(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return 0; /* required / default memory */ }
static void kernel_destroy(void* kernel) { (void)kernel; }
static OrtStatus* kernel_create(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info, void** kernel) {
  (void)op; (void)api; (void)info;
  *kernel = (void*)&g_api; /* stateless: any non-NULL pointer */
  return NULL;
}

/* The output has the input's type and shape: ONNX Runtime needs that to fold shapes and move transposes
 * across the op. */
static OrtStatus* infer_shape(const OrtCustomOp* op, OrtShapeInferContext* ctx) {
  (void)op;
  OrtTensorTypeAndShapeInfo* info; /* owned by the context (ONNX Runtime frees it) */
  TRY(CALL(InferInputFn, ShapeInferContext_GetInputTypeShape, ctx, 0, &info));
  return CALL(InferOutputFn, ShapeInferContext_SetOutputTypeShape, ctx, 0, info);
}

static const OrtCustomOp g_op = {
  .version = OP_VERSION,
  .GetName = op_name,
  .GetExecutionProviderType = op_provider,
  .GetInputType = op_uint8,
  .GetInputTypeCount = op_two,
  .GetOutputType = op_uint8,
  .GetOutputTypeCount = op_one,
  .KernelDestroy = kernel_destroy,
  .GetInputCharacteristic = op_zero,
  .GetOutputCharacteristic = op_zero,
  .GetInputMemoryType = op_zero,
  .CreateKernelV2 = kernel_create,
  .KernelComputeV2 = compute,
  .InferOutputShapeFn = infer_shape,
};

static OrtCustomOpDomain* g_domain;
static OrtStatus* g_domain_error;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void make_domain(void) {
  pthread_once(&g_chosen, choose_lookup);
  g_domain_error = CALL(CreateDomainFn, CreateCustomOpDomain, "edge_sdk", &g_domain);
  if (!g_domain_error) g_domain_error = CALL(DomainAddFn, CustomOpDomain_Add, g_domain, &g_op);
}

/* Entry point of SessionOptions.register_custom_ops_library. One domain for every session: it lives as long as
 * the process (ONNX Runtime requires it to outlive the sessions that use it). */
EXPORT OrtStatus* RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* base) {
  const OrtApi* api = base->GetApi(API_VERSION);
  if (!api) {
    g_api = base->GetApi(1);
    return fail("edge_sdk.ByteLookup needs onnxruntime >= 1.17");
  }
  g_api = api;
  pthread_once(&g_once, make_domain);
  if (g_domain_error) return fail("edge_sdk.ByteLookup: ONNX Runtime refused the custom op domain");
  return CALL(AddDomainFn, AddCustomOpDomain, options, g_domain);
}
