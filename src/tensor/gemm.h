/* tensor/gemm: every matrix product of bertc, through oneDNN matmul (f32, bf16 operands, or u8
 * activations x s8 weights, always with f32 results). Primitives are created once per shape and
 * cached in the context, so the training loop only sets data pointers and executes.
 * C = post(A·B (+ bias)) (+ C when accumulating), with arbitrary row/column strides, so
 * transposes and per-head views cost no copies; the post-op (GELU, or adding a tensor such as
 * the residual) is fused into the product, saving a pass over C. */
#ifndef BERT_TENSOR_GEMM_H
#define BERT_TENSOR_GEMM_H

#include <stdint.h>

#include "base/error.h"

/* BERT_INT8: u8 activations (per-tensor scale and zero point) x s8 weights (per-output-channel
 * scales), int32 accumulation, f32 result; inference only. */
typedef enum bert_precision { BERT_FP32 = 0, BERT_BF16 = 1, BERT_INT8 = 2 } bert_precision;

/* What the product does to its result before storing it (applied after the bias). */
typedef enum bert_post {
  BERT_POST_NONE = 0,
  BERT_POST_GELU_ERF,  /* exact GELU */
  BERT_POST_GELU_TANH, /* GELU's tanh approximation (gelu_new) */
  BERT_POST_ADD,       /* + a tensor of C's shape, contiguous [m, n] (2-D products only) */
} bert_post;

typedef struct bert_gemm_ctx bert_gemm_ctx;

int bert_gemm_ctx_create(bert_gemm_ctx **ctx, bert_error *err);
void bert_gemm_ctx_destroy(bert_gemm_ctx *ctx);

/* A product over up to two batch dimensions: for each batch index (b0, b1),
 * C[m, n] (+)= sum_k A[m, k] B[k, n] (+ bias[n]). Strides are in elements, for the dims
 * {batch0, batch1, rows, cols} (unused batch strides ignored). */
typedef struct bert_gemm_desc {
  int batch_dims;          /* 0, 1 or 2 */
  int64_t batch[2];
  int64_t m, n, k;
  int64_t a_stride[4];     /* A is [batch..., m, k] */
  int64_t b_stride[4];     /* B is [batch..., k, n] */
  int64_t c_stride[4];     /* C is [batch..., m, n] */
  bert_precision operands; /* element type of A and B */
  int with_bias;           /* bias is f32 [n] (2-D products only) */
  int accumulate;          /* C += A·B instead of C = A·B */
  bert_post post;
  int c_bf16;              /* C is bf16 (uint16_t), rounded from the f32 result; bf16 operands only,
                              no accumulation: the operand of a next bf16 product, written once */
  const void *b_layout;    /* set by bert_gemm_ex from a packed B: the layout the primitive reads */
  uint64_t b_serial;       /* and its set's serial: a later set may reuse the layout's address */
} bert_gemm_desc;

/* Weights packed for inference: a linear layer's W [out, in] reordered once into the layout that
 * oneDNN's kernel prefers on this CPU (blocked for AMX / VNNI kernels, which otherwise re-block
 * the plain matrix at every call). A product whose kernel takes that layout reads the packed copy;
 * any other product (another row count may choose another kernel) reads the plain weights. A set
 * owns the packed copies and their layouts, equal layouts being one object, so that the primitive
 * cache keys on the layout, not on each matrix. Read-only once packed: contexts may share it. */
typedef struct bert_packed_set bert_packed_set;
typedef struct bert_packed_weights {
  const void *layout; /* NULL: not packed (plain is the preferred layout); else owned by the set */
  const void *data;
  uint64_t serial;    /* the set's */
} bert_packed_weights;

/* The run-time operands beyond A, B, bias and C. */
typedef struct bert_gemm_args {
  const float *addend;       /* BERT_POST_ADD: the tensor added */
  const float *col_scales;   /* BERT_INT8: [n] scales of the int32 sums (activation x weight scale) */
  int32_t a_zero_point;      /* BERT_INT8: the u8 value that stands for 0 */
  const bert_packed_weights *packed_b; /* B's packed copy (linear products), or NULL */
} bert_gemm_args;

int bert_gemm(bert_gemm_ctx *ctx, const bert_gemm_desc *desc, const void *a, const void *b,
              const float *bias, void *c, bert_error *err);
int bert_gemm_ex(bert_gemm_ctx *ctx, const bert_gemm_desc *desc, const void *a, const void *b,
                 const float *bias, void *c, const bert_gemm_args *args, bert_error *err);

/* The three products of a linear layer y = x Wᵀ + b with W stored [out, in] (HuggingFace layout).
 * In bf16 mode x, w, dy are bf16 arrays (uint16_t). */
int bert_linear_forward(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out,
                        const void *x, const void *w, const float *bias, float *y, bert_error *err);
/* y = post(x Wᵀ + b), post being BERT_POST_GELU_* or BERT_POST_ADD of `addend` [rows, out];
 * y_bf16 (bf16 operands only): y is a bf16 array. */
int bert_linear_forward_post(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                             int64_t out, const void *x, const void *w, const float *bias,
                             bert_post post, const float *addend, void *y, int y_bf16, bert_error *err);

/* An int8 linear layer: x quantized (u8 with a zero point, see tensor/quantize), W [out, in] s8
 * with per-row scales w_scale[out]; y = post(x_scale · w_scale · Σ (x - zero) W + b). */
typedef struct bert_int8_input {
  const uint8_t *data;
  float scale;
  int32_t zero_point;
} bert_int8_input;
int bert_linear_forward_int8(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out,
                             const bert_int8_input *x, const int8_t *w, const float *w_scale,
                             const float *bias, bert_post post, const float *addend, float *y,
                             bert_error *err);
int bert_linear_forward_int8_packed(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out,
                                    const bert_int8_input *x, const int8_t *w, const bert_packed_weights *packed,
                                    const float *w_scale, const float *bias, bert_post post, const float *addend,
                                    float *y, bert_error *err);
/* The largest u8 activation value whose products oneDNN sums exactly on this CPU: 255 with VNNI
 * or AMX, 127 where AVX2's u8 x s8 multiply-add saturates 16-bit pairs (the same 7-bit "reduced
 * range" as fbgemm's and ONNX Runtime's int8 on such CPUs). */
int bert_gemm_int8_activation_max(bert_gemm_ctx *ctx);

/* `serial` tells this set from earlier ones of the same owner (a primitive cached for an earlier
 * set's layout is never taken for this one's, whose layouts may sit at the same addresses). */
int bert_packed_set_create(bert_packed_set **set, uint64_t serial, bert_error *err);
void bert_packed_set_free(bert_packed_set *set);
/* Packs W [out, in] (f32, bf16 or, for BERT_INT8, s8) as a product of `rows` rows prefers it; `force`
 * packs even when the preferred layout is a plain one (tests). Leaves *out unpacked when plain is
 * preferred or bf16 is emulated. */
int bert_gemm_pack_weights(bert_gemm_ctx *ctx, bert_packed_set *set, bert_precision p, int64_t rows, int64_t in,
                           int64_t out, const void *w, int force, bert_packed_weights *packed, bert_error *err);
/* Products so far that read a packed B (for benchmarks and tests: packing is invisible otherwise). */
int64_t bert_gemm_packed_calls(const bert_gemm_ctx *ctx);
/* y = post(x Wᵀ + b) as bert_linear_forward_post, reading W's packed copy where the kernel takes it. */
int bert_linear_forward_packed(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out,
                               const void *x, const void *w, const bert_packed_weights *packed, const float *bias,
                               bert_post post, const float *addend, void *y, int y_bf16, bert_error *err);

/* dx (+)= dy W */
int bert_linear_backward_input(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                               int64_t out, const void *dy, const void *w, float *dx, int accumulate,
                               bert_error *err);
/* dW += dyᵀ x */
int bert_linear_backward_weight(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                                int64_t out, const void *dy, const void *x, float *dw, bert_error *err);

/* db[j] += sum_i dy[i, j] */
void bert_bias_backward(int64_t rows, int64_t cols, const float *dy, float *db);

/* 1 when oneDNN multiplies bf16 natively on this CPU; 0 when bf16 products are emulated (operands
 * widened to f32: the same numbers, at f32 speed). */
int bert_gemm_bf16_native(bert_gemm_ctx *ctx);

/* bf16 conversion (round to nearest even). */
void bert_to_bf16(const float *src, uint16_t *dst, int64_t n);
float bert_bf16_to_float(uint16_t v);

#endif
