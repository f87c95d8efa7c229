#include "tensor/gemm.h"

#include <dnnl.h>

#include "base/threads.h"
#include "tensor/vmath.h"
#include <stdlib.h>
#include <string.h>

/* A cached primitive: the descriptor it was built for and reusable memory objects whose data
 * handles are swapped on every call. */
typedef struct gemm_entry {
  bert_gemm_desc desc;
  dnnl_primitive_t prim;
  dnnl_memory_t a, b, bias, c;
  dnnl_memory_t addend, scales, zero_point; /* post-op tensor; int8 run-time attributes */
  int bias_post_op;   /* int8: oneDNN v2 adds the primitive's bias before the output scales, so the
                         f32 bias is a binary post-op (index 0) instead */
  int addend_index;   /* post-op index of the BERT_POST_ADD tensor */
  int unusable;       /* a packed B layout no good kernel takes for this product: read the plain B */
  int emulated; /* bf16 operands widened to f32 before an f32 product (CPU without bf16) */
} gemm_entry;

#define GEMM_CACHE_SIZE 256

struct bert_gemm_ctx {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  gemm_entry entries[GEMM_CACHE_SIZE];
  int count;
  int next_victim;
  int bf16_native; /* -1 unknown, 0 emulated, 1 native */
  int int8_max;     /* 0 unknown, else the largest exact u8 activation (255 or 127) */
  float *col_scales; /* int8: activation scale x weight scales of the current call */
  int64_t packed_calls;
  size_t col_scales_cap;
  float *widen[3];  /* f32 copies of bf16 operands (and a bf16 result) when emulating; grown, never shrunk */
  size_t widen_cap[3];
};

int bert_gemm_ctx_create(bert_gemm_ctx **out, bert_error *err) {
  bert_threads_set(0); /* oneDNN's teams within OMP_THREAD_LIMIT on this thread (base/threads.h) */
  bert_gemm_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory");
  if (dnnl_engine_create(&ctx->engine, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags) != dnnl_success) {
    free(ctx);
    return bert_error_set(err, BERT_EUNSUPPORTED, "gemm: cannot create a oneDNN CPU engine");
  }
  ctx->bf16_native = -1;
  *out = ctx;
  return BERT_OK;
}

static void entry_release(gemm_entry *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->a) dnnl_memory_destroy(e->a);
  if (e->b) dnnl_memory_destroy(e->b);
  if (e->c) dnnl_memory_destroy(e->c);
  if (e->bias) dnnl_memory_destroy(e->bias);
  if (e->addend) dnnl_memory_destroy(e->addend);
  if (e->scales) dnnl_memory_destroy(e->scales);
  if (e->zero_point) dnnl_memory_destroy(e->zero_point);
  memset(e, 0, sizeof *e);
}

void bert_gemm_ctx_destroy(bert_gemm_ctx *ctx) {
  if (!ctx) return;
  for (int i = 0; i < ctx->count; i++) entry_release(&ctx->entries[i]);
  free(ctx->widen[0]);
  free(ctx->widen[1]);
  free(ctx->widen[2]);
  free(ctx->col_scales);
  dnnl_stream_destroy(ctx->stream);
  dnnl_engine_destroy(ctx->engine);
  free(ctx);
}

static void make_md(dnnl_memory_desc_t *md, const bert_gemm_desc *d, int64_t rows, int64_t cols,
                    const int64_t *stride, dnnl_data_type_t type) {
  dnnl_dims_t dims, strides;
  int nd = d->batch_dims + 2;
  for (int i = 0; i < d->batch_dims; i++) {
    dims[i] = d->batch[i];
    strides[i] = stride[i];
  }
  dims[nd - 2] = rows;
  dims[nd - 1] = cols;
  strides[nd - 2] = stride[2];
  strides[nd - 1] = stride[3];
  dnnl_memory_desc_init_by_strides(md, nd, dims, type, strides);
}

static int desc_equal(const bert_gemm_desc *x, const bert_gemm_desc *y) {
  return memcmp(x, y, sizeof *x) == 0;
}

static void vector_md(dnnl_memory_desc_t *md, int64_t n, dnnl_data_type_t type) {
  dnnl_dims_t dims = {n};
  dnnl_memory_desc_init_by_tag(md, 1, dims, type, dnnl_a);
}

/* Post-ops in order: the sum of accumulation, the int8 bias, then the requested post-op. */
static void append_post_ops(dnnl_post_ops_t post, gemm_entry *e, const bert_gemm_desc *d,
                            const dnnl_memory_desc_t *bias_md, const dnnl_memory_desc_t *c_md) {
  int index = 0;
  if (d->accumulate) dnnl_post_ops_append_sum(post, 1.0f), index++;
  if (e->bias_post_op) dnnl_post_ops_append_binary(post, dnnl_binary_add, bias_md), index++;
  switch (d->post) {
    case BERT_POST_GELU_ERF: dnnl_post_ops_append_eltwise(post, 1.0f, dnnl_eltwise_gelu_erf, 0, 0); break;
    case BERT_POST_GELU_TANH: dnnl_post_ops_append_eltwise(post, 1.0f, dnnl_eltwise_gelu_tanh, 0, 0); break;
    case BERT_POST_ADD:
      dnnl_post_ops_append_binary(post, dnnl_binary_add, c_md);
      e->addend_index = index;
      break;
    case BERT_POST_NONE: break;
  }
}

/* int8: the output scales (per column) and the activations' zero point, both given at run time. */
static void set_int8_attrs(dnnl_primitive_attr_t attr, const bert_gemm_desc *d) {
  const float runtime_scale = DNNL_RUNTIME_F32_VAL;
  const int32_t runtime_zero = DNNL_RUNTIME_S32_VAL;
  dnnl_primitive_attr_set_output_scales(attr, 1, 1 << (d->batch_dims + 1), &runtime_scale);
  dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &runtime_zero);
}

/* A packed layout is only worth reading through a real kernel: oneDNN's reference implementation
 * takes any layout, slowly. */
static int is_reference_impl(const_dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  return impl && !strncmp(impl, "ref", 3);
}

static int entry_build_typed(bert_gemm_ctx *ctx, gemm_entry *e, const bert_gemm_desc *d,
                             dnnl_data_type_t a_type, dnnl_data_type_t b_type, dnnl_data_type_t c_type,
                             bert_error *err) {
  dnnl_memory_desc_t a_md, b_md, c_md, bias_md, addend_md, scales_md, zero_md;
  int int8 = d->operands == BERT_INT8;
  make_md(&a_md, d, d->m, d->k, d->a_stride, a_type);
  if (d->b_layout)
    b_md = *(const dnnl_memory_desc_t *)d->b_layout;
  else
    make_md(&b_md, d, d->k, d->n, d->b_stride, b_type);
  make_md(&c_md, d, d->m, d->n, d->c_stride, c_type);
  if (d->with_bias) {
    dnnl_dims_t bdims = {1, d->n};
    dnnl_memory_desc_init_by_tag(&bias_md, 2, bdims, dnnl_f32, dnnl_ab);
  }
  if (d->post == BERT_POST_ADD) {
    dnnl_dims_t adims = {d->m, d->n};
    dnnl_memory_desc_init_by_tag(&addend_md, 2, adims, dnnl_f32, dnnl_ab);
  }
  e->bias_post_op = int8 && d->with_bias;
  dnnl_matmul_desc_t op;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_primitive_desc_t pd = NULL;
  int rc = BERT_OK;
  if (dnnl_matmul_desc_init(&op, &a_md, &b_md, d->with_bias && !int8 ? &bias_md : NULL, &c_md) != dnnl_success) {
    rc = bert_error_set(err, BERT_EUNSUPPORTED, "gemm: oneDNN rejected a %lldx%lldx%lld product",
                        (long long)d->m, (long long)d->n, (long long)d->k);
    goto done;
  }
  dnnl_primitive_attr_create(&attr);
  dnnl_post_ops_create(&post);
  append_post_ops(post, e, d, &bias_md, &addend_md);
  dnnl_primitive_attr_set_post_ops(attr, post);
  if (int8) set_int8_attrs(attr, d);
  if (dnnl_primitive_desc_create(&pd, &op, attr, ctx->engine, NULL) != dnnl_success ||
      (d->b_layout && is_reference_impl(pd)) || dnnl_primitive_create(&e->prim, pd) != dnnl_success) {
    static const char *const names[] = {"f32", "bf16", "int8"};
    rc = bert_error_set(err, BERT_EUNSUPPORTED, "gemm: no oneDNN implementation for a %lldx%lldx%lld %s product",
                        (long long)d->m, (long long)d->n, (long long)d->k, names[d->operands]);
    goto done;
  }
  dnnl_memory_create(&e->a, &a_md, ctx->engine, DNNL_MEMORY_NONE);
  dnnl_memory_create(&e->b, &b_md, ctx->engine, DNNL_MEMORY_NONE);
  dnnl_memory_create(&e->c, &c_md, ctx->engine, DNNL_MEMORY_NONE);
  if (d->with_bias) dnnl_memory_create(&e->bias, &bias_md, ctx->engine, DNNL_MEMORY_NONE);
  if (d->post == BERT_POST_ADD) dnnl_memory_create(&e->addend, &addend_md, ctx->engine, DNNL_MEMORY_NONE);
  if (int8) {
    vector_md(&scales_md, d->n, dnnl_f32);
    vector_md(&zero_md, 1, dnnl_s32);
    dnnl_memory_create(&e->scales, &scales_md, ctx->engine, DNNL_MEMORY_NONE);
    dnnl_memory_create(&e->zero_point, &zero_md, ctx->engine, DNNL_MEMORY_NONE);
  }
  e->desc = *d;
done:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (post) dnnl_post_ops_destroy(post);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (rc && e->prim) dnnl_primitive_destroy(e->prim), e->prim = NULL;
  return rc;
}

/* bf16 products run natively when oneDNN has a bf16 kernel for this CPU; otherwise the operands
 * are widened to f32 (exactly: bf16 is a truncated f32) and multiplied in f32, so the numbers are
 * those of bf16 operands with f32 accumulation either way — only the speed differs. */
static int entry_build(bert_gemm_ctx *ctx, gemm_entry *e, const bert_gemm_desc *d, bert_error *err) {
  if (d->operands == BERT_INT8) return entry_build_typed(ctx, e, d, dnnl_u8, dnnl_s8, dnnl_f32, err);
  if (d->operands != BERT_BF16) return entry_build_typed(ctx, e, d, dnnl_f32, dnnl_f32, dnnl_f32, err);
  dnnl_data_type_t c_type = d->c_bf16 ? dnnl_bf16 : dnnl_f32;
  if (d->b_layout && bert_gemm_bf16_native(ctx) != 1)
    return bert_error_set(err, BERT_EUNSUPPORTED, "gemm: packed bf16 weights need native bf16 products");
  if (ctx->bf16_native != 0) {
    if (entry_build_typed(ctx, e, d, dnnl_bf16, dnnl_bf16, c_type, NULL) == BERT_OK) {
      ctx->bf16_native = 1;
      return BERT_OK;
    }
    if (ctx->bf16_native == 1) return entry_build_typed(ctx, e, d, dnnl_bf16, dnnl_bf16, c_type, err);
    ctx->bf16_native = 0;
  }
  /* emulated: an f32 result, rounded to bf16 by the caller of the primitive when c_bf16 */
  int rc = entry_build_typed(ctx, e, d, dnnl_f32, dnnl_f32, dnnl_f32, err);
  if (rc == BERT_OK) e->emulated = 1;
  return rc;
}

int bert_gemm_bf16_native(bert_gemm_ctx *ctx) {
  if (ctx->bf16_native < 0) {
    bert_gemm_desc d;
    memset(&d, 0, sizeof d);
    d.m = d.n = d.k = 16;
    d.a_stride[2] = d.b_stride[2] = d.c_stride[2] = 16;
    d.a_stride[3] = d.b_stride[3] = d.c_stride[3] = 1;
    d.operands = BERT_BF16;
    gemm_entry probe;
    memset(&probe, 0, sizeof probe);
    ctx->bf16_native = entry_build_typed(ctx, &probe, &d, dnnl_bf16, dnnl_bf16, dnnl_f32, NULL) == BERT_OK;
    if (probe.prim) entry_release(&probe);
  }
  return ctx->bf16_native;
}

/* Elements spanned by a strided view: the f32 copy keeps the same strides. */
static size_t view_span(int batch_dims, const int64_t *batch, int64_t rows, int64_t cols, const int64_t *stride) {
  int64_t last = (rows - 1) * stride[2] + (cols - 1) * stride[3];
  for (int i = 0; i < batch_dims; i++) last += (batch[i] - 1) * stride[i];
  return (size_t)last + 1;
}

static float *scratch(bert_gemm_ctx *ctx, int slot, size_t n) {
  if (ctx->widen_cap[slot] < n) {
    free(ctx->widen[slot]);
    ctx->widen[slot] = malloc(n * sizeof(float));
    ctx->widen_cap[slot] = ctx->widen[slot] ? n : 0;
  }
  return ctx->widen[slot];
}

/* The elements of a strided view of f32 rounded into the same view of bf16 (only the view: other
 * elements of the span may belong to other products). */
static void narrow_view(const bert_gemm_desc *d, const float *src, uint16_t *dst) {
  int64_t nb0 = d->batch_dims > 0 ? d->batch[0] : 1, nb1 = d->batch_dims > 1 ? d->batch[1] : 1;
  const int64_t *st = d->c_stride;
#pragma omp parallel for collapse(2) schedule(static) if (nb0 * nb1 * d->m * d->n >= 65536)
  for (int64_t b0 = 0; b0 < nb0; b0++)
    for (int64_t b1 = 0; b1 < nb1; b1++)
      for (int64_t i = 0; i < d->m; i++) {
        int64_t base = b0 * st[0] + b1 * st[1] + i * st[2];
        for (int64_t j = 0; j < d->n; j++) dst[base + j * st[3]] = bert_bf16_round(src[base + j * st[3]]);
      }
}

static const float *widen(bert_gemm_ctx *ctx, int slot, const uint16_t *src, size_t n) {
  float *dst = scratch(ctx, slot, n);
  if (!dst) return NULL;
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (size_t i = 0; i < n; i++) dst[i] = bert_bf16_to_float(src[i]);
  return dst;
}

static gemm_entry *lookup(bert_gemm_ctx *ctx, const bert_gemm_desc *d, bert_error *err) {
  for (int i = 0; i < ctx->count; i++)
    if (desc_equal(&ctx->entries[i].desc, d)) return &ctx->entries[i];
  gemm_entry *e;
  if (ctx->count < GEMM_CACHE_SIZE) {
    e = &ctx->entries[ctx->count];
  } else {
    e = &ctx->entries[ctx->next_victim];
    ctx->next_victim = (ctx->next_victim + 1) % GEMM_CACHE_SIZE;
    entry_release(e);
  }
  if (entry_build(ctx, e, d, d->b_layout ? NULL : err) != BERT_OK) {
    if (!d->b_layout) return NULL;
    memset(e, 0, sizeof *e); /* remembered, so that the plain B is read without trying again */
    e->desc = *d;
    e->unusable = 1;
  }
  if (ctx->count < GEMM_CACHE_SIZE) ctx->count++;
  return e;
}

int bert_gemm(bert_gemm_ctx *ctx, const bert_gemm_desc *desc, const void *a, const void *b,
              const float *bias, void *c, bert_error *err) {
  return bert_gemm_ex(ctx, desc, a, b, bias, c, NULL, err);
}

int bert_gemm_ex(bert_gemm_ctx *ctx, const bert_gemm_desc *desc, const void *a, const void *b,
                 const float *bias, void *c, const bert_gemm_args *extra, bert_error *err) {
  bert_gemm_desc key = *desc;
  for (int i = desc->batch_dims; i < 2; i++) {
    key.batch[i] = 0;
    key.a_stride[i] = key.b_stride[i] = key.c_stride[i] = 0;
  }
  if ((key.post == BERT_POST_ADD && (!extra || !extra->addend || key.batch_dims)) ||
      (key.operands == BERT_INT8 && (!extra || !extra->col_scales || key.batch_dims)))
    return bert_error_set(err, BERT_EINVAL, "gemm: a 2-D product with its post-op tensor or int8 scales expected");
  if (key.c_bf16 && (key.operands != BERT_BF16 || key.accumulate))
    return bert_error_set(err, BERT_EINVAL, "gemm: a bf16 result needs bf16 operands and no accumulation");
  gemm_entry *e = NULL;
  const bert_packed_weights *packed = extra ? extra->packed_b : NULL;
  if (packed && packed->layout && !key.batch_dims) {
    bert_gemm_desc packed_key = key;
    packed_key.b_layout = packed->layout;
    packed_key.b_serial = packed->serial;
    gemm_entry *pe = lookup(ctx, &packed_key, NULL);
    if (pe && !pe->unusable) e = pe, key = packed_key, b = packed->data, ctx->packed_calls++;
  }
  if (!e) e = lookup(ctx, &key, err);
  if (!e) return err ? err->code : BERT_EUNSUPPORTED;
  if (e->emulated) {
    a = widen(ctx, 0, a, view_span(key.batch_dims, key.batch, key.m, key.k, key.a_stride));
    b = widen(ctx, 1, b, view_span(key.batch_dims, key.batch, key.k, key.n, key.b_stride));
    if (!a || !b) return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory widening bf16 operands");
  }
  void *c_out = c;
  if (e->emulated && key.c_bf16 &&
      !(c_out = scratch(ctx, 2, view_span(key.batch_dims, key.batch, key.m, key.n, key.c_stride))))
    return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory for a bf16 result");
  dnnl_memory_set_data_handle(e->a, (void *)a);
  dnnl_memory_set_data_handle(e->b, (void *)b);
  dnnl_memory_set_data_handle(e->c, c_out);
  dnnl_exec_arg_t args[8] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
  int nargs = 3;
  if (key.with_bias) {
    dnnl_memory_set_data_handle(e->bias, (void *)bias);
    int arg = e->bias_post_op ? (DNNL_ARG_ATTR_MULTIPLE_POST_OP(key.accumulate ? 1 : 0) | DNNL_ARG_SRC_1) : DNNL_ARG_BIAS;
    args[nargs++] = (dnnl_exec_arg_t){arg, e->bias};
  }
  if (key.post == BERT_POST_ADD) {
    dnnl_memory_set_data_handle(e->addend, (void *)extra->addend);
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(e->addend_index) | DNNL_ARG_SRC_1, e->addend};
  }
  if (key.operands == BERT_INT8) {
    dnnl_memory_set_data_handle(e->scales, (void *)extra->col_scales);
    dnnl_memory_set_data_handle(e->zero_point, (void *)&extra->a_zero_point);
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_OUTPUT_SCALES, e->scales};
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, e->zero_point};
  }
  if (dnnl_primitive_execute(e->prim, ctx->stream, nargs, args) != dnnl_success ||
      dnnl_stream_wait(ctx->stream) != dnnl_success)
    return bert_error_set(err, BERT_EUNSUPPORTED, "gemm: oneDNN execution failed");
  if (c_out != c) narrow_view(&key, c_out, c);
  return BERT_OK;
}

static bert_gemm_desc plain(bert_precision p, int64_t m, int64_t n, int64_t k) {
  bert_gemm_desc d;
  memset(&d, 0, sizeof d);
  d.m = m;
  d.n = n;
  d.k = k;
  d.operands = p;
  return d;
}

static bert_gemm_desc linear_desc(bert_precision p, int64_t rows, int64_t in, int64_t out) {
  bert_gemm_desc d = plain(p, rows, out, in);
  d.a_stride[2] = in, d.a_stride[3] = 1;   /* x [rows, in] */
  d.b_stride[2] = 1, d.b_stride[3] = in;   /* Wᵀ: W [out, in] read as [in, out] */
  d.c_stride[2] = out, d.c_stride[3] = 1;
  return d;
}

int bert_linear_forward(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out,
                        const void *x, const void *w, const float *bias, float *y, bert_error *err) {
  return bert_linear_forward_post(ctx, p, rows, in, out, x, w, bias, BERT_POST_NONE, NULL, y, 0, err);
}

int bert_linear_forward_post(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                             int64_t out, const void *x, const void *w, const float *bias,
                             bert_post post, const float *addend, void *y, int y_bf16, bert_error *err) {
  return bert_linear_forward_packed(ctx, p, rows, in, out, x, w, NULL, bias, post, addend, y, y_bf16, err);
}

int bert_linear_forward_packed(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out,
                               const void *x, const void *w, const bert_packed_weights *packed, const float *bias,
                               bert_post post, const float *addend, void *y, int y_bf16, bert_error *err) {
  bert_gemm_desc d = linear_desc(p, rows, in, out);
  d.with_bias = bias != NULL;
  d.post = post;
  d.c_bf16 = y_bf16;
  bert_gemm_args extra = {addend, NULL, 0, packed};
  return bert_gemm_ex(ctx, &d, x, w, bias, y, &extra, err);
}

int bert_linear_forward_int8(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out,
                             const bert_int8_input *x, const int8_t *w, const float *w_scale,
                             const float *bias, bert_post post, const float *addend, float *y,
                             bert_error *err) {
  return bert_linear_forward_int8_packed(ctx, rows, in, out, x, w, NULL, w_scale, bias, post, addend, y, err);
}

int bert_linear_forward_int8_packed(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out,
                                    const bert_int8_input *x, const int8_t *w, const bert_packed_weights *packed,
                                    const float *w_scale, const float *bias, bert_post post, const float *addend,
                                    float *y, bert_error *err) {
  if (ctx->col_scales_cap < (size_t)out) {
    free(ctx->col_scales);
    ctx->col_scales = malloc((size_t)out * sizeof(float));
    ctx->col_scales_cap = ctx->col_scales ? (size_t)out : 0;
    if (!ctx->col_scales) return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory for int8 scales");
  }
  for (int64_t j = 0; j < out; j++) ctx->col_scales[j] = x->scale * w_scale[j];
  bert_gemm_desc d = linear_desc(BERT_INT8, rows, in, out);
  d.with_bias = bias != NULL;
  d.post = post;
  bert_gemm_args extra = {addend, ctx->col_scales, x->zero_point, packed};
  return bert_gemm_ex(ctx, &d, x->data, w, bias, y, &extra, err);
}

/* Multiplies rows of the largest u8 by rows of the largest s8, at a size that takes the kernel of
 * the model's products (a single row may go to another): exact sums mean no saturation. */
int bert_gemm_int8_activation_max(bert_gemm_ctx *ctx) {
  if (ctx->int8_max) return ctx->int8_max;
  enum { M = 64, K = 256, N = 64 };
  uint8_t *x = malloc(M * K);
  int8_t *w = malloc(N * K);
  float *y = malloc(sizeof(float) * M * N), scale[N];
  ctx->int8_max = 127;
  if (x && w && y) {
    memset(x, 255, M * K);
    memset(w, 127, N * K);
    for (int j = 0; j < N; j++) scale[j] = 1.0f;
    bert_int8_input in = {x, 1.0f, 0};
    int exact = bert_linear_forward_int8(ctx, M, K, N, &in, w, scale, NULL, BERT_POST_NONE, NULL, y, NULL) == BERT_OK;
    for (int i = 0; exact && i < M * N; i++) exact = y[i] == 255.0f * 127.0f * K;
    if (exact) ctx->int8_max = 255;
  }
  free(x), free(w), free(y);
  return ctx->int8_max;
}

int bert_linear_backward_input(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                               int64_t out, const void *dy, const void *w, float *dx, int accumulate,
                               bert_error *err) {
  bert_gemm_desc d = plain(p, rows, in, out);
  d.a_stride[2] = out, d.a_stride[3] = 1;  /* dy [rows, out] */
  d.b_stride[2] = in, d.b_stride[3] = 1;   /* W [out, in] */
  d.c_stride[2] = in, d.c_stride[3] = 1;
  d.accumulate = accumulate;
  return bert_gemm(ctx, &d, dy, w, NULL, dx, err);
}

int bert_linear_backward_weight(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                                int64_t out, const void *dy, const void *x, float *dw, bert_error *err) {
  bert_gemm_desc d = plain(p, out, in, rows);
  d.a_stride[2] = 1, d.a_stride[3] = out;  /* dyᵀ: dy [rows, out] read as [out, rows] */
  d.b_stride[2] = in, d.b_stride[3] = 1;   /* x [rows, in] */
  d.c_stride[2] = in, d.c_stride[3] = 1;
  d.accumulate = 1;
  return bert_gemm(ctx, &d, dy, x, NULL, dw, err);
}

void bert_bias_backward(int64_t rows, int64_t cols, const float *dy, float *db) {
#pragma omp parallel for schedule(static) if (cols >= 256)
  for (int64_t j0 = 0; j0 < cols; j0 += 64) {
    int64_t j1 = j0 + 64 < cols ? j0 + 64 : cols;
    float acc[64] = {0};
    for (int64_t i = 0; i < rows; i++) {
      const float *row = dy + i * cols;
      for (int64_t j = j0; j < j1; j++) acc[j - j0] += row[j];
    }
    for (int64_t j = j0; j < j1; j++) db[j] += acc[j - j0];
  }
}

void bert_to_bf16(const float *src, uint16_t *dst, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; i++) dst[i] = bert_bf16_round(src[i]);
}

float bert_bf16_to_float(uint16_t v) {
  uint32_t bits = (uint32_t)v << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* ---------------------------------------------------------------- packed weights */

int64_t bert_gemm_packed_calls(const bert_gemm_ctx *ctx) { return ctx->packed_calls; }

struct bert_packed_set {
  uint64_t serial;
  dnnl_memory_desc_t **layouts; /* distinct layouts */
  int layout_count;
  void **blocks;                /* packed copies */
  int block_count, block_cap;
};

int bert_packed_set_create(bert_packed_set **set, uint64_t serial, bert_error *err) {
  *set = calloc(1, sizeof **set);
  if (!*set) return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory for packed weights");
  (*set)->serial = serial;
  return BERT_OK;
}

void bert_packed_set_free(bert_packed_set *set) {
  if (!set) return;
  for (int i = 0; i < set->layout_count; i++) free(set->layouts[i]);
  for (int i = 0; i < set->block_count; i++) free(set->blocks[i]);
  free(set->layouts);
  free(set->blocks);
  free(set);
}

static const dnnl_memory_desc_t *intern_layout(bert_packed_set *set, const dnnl_memory_desc_t *md) {
  for (int i = 0; i < set->layout_count; i++)
    if (dnnl_memory_desc_equal(set->layouts[i], md)) return set->layouts[i];
  dnnl_memory_desc_t **grown = realloc(set->layouts, (size_t)(set->layout_count + 1) * sizeof *grown);
  if (!grown) return NULL;
  set->layouts = grown;
  if (!(grown[set->layout_count] = malloc(sizeof *md))) return NULL;
  *grown[set->layout_count] = *md;
  return grown[set->layout_count++];
}

static void *new_block(bert_packed_set *set, size_t bytes) {
  if (set->block_count == set->block_cap) {
    int cap = set->block_cap ? 2 * set->block_cap : 16;
    void **grown = realloc(set->blocks, (size_t)cap * sizeof *grown);
    if (!grown) return NULL;
    set->blocks = grown, set->block_cap = cap;
  }
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
  return set->blocks[set->block_count++] = p;
}

/* The weights layout oneDNN's kernel chooses for this linear product when free to choose. */
static int preferred_layout(bert_gemm_ctx *ctx, const bert_gemm_desc *d, dnnl_data_type_t a_type,
                            dnnl_data_type_t b_type, dnnl_memory_desc_t *out) {
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_dims_t bdims = {d->k, d->n};
  make_md(&a_md, d, d->m, d->k, d->a_stride, a_type);
  dnnl_memory_desc_init_by_tag(&b_md, 2, bdims, b_type, dnnl_format_tag_any);
  make_md(&c_md, d, d->m, d->n, d->c_stride, dnnl_f32);
  dnnl_matmul_desc_t op;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL;
  int ok = dnnl_matmul_desc_init(&op, &a_md, &b_md, NULL, &c_md) == dnnl_success &&
           dnnl_primitive_attr_create(&attr) == dnnl_success;
  if (ok && d->operands == BERT_INT8) set_int8_attrs(attr, d);
  ok = ok && dnnl_primitive_desc_create(&pd, &op, attr, ctx->engine, NULL) == dnnl_success && !is_reference_impl(pd);
  if (ok) *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return ok;
}

static int reorder(bert_gemm_ctx *ctx, const dnnl_memory_desc_t *from, const void *src, const dnnl_memory_desc_t *to,
                   void *dst) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t s = NULL, t = NULL;
  int ok = dnnl_reorder_primitive_desc_create(&pd, from, ctx->engine, to, ctx->engine, NULL) == dnnl_success &&
           dnnl_primitive_create(&prim, pd) == dnnl_success &&
           dnnl_memory_create(&s, from, ctx->engine, (void *)src) == dnnl_success &&
           dnnl_memory_create(&t, to, ctx->engine, dst) == dnnl_success;
  if (ok) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, t}};
    ok = dnnl_primitive_execute(prim, ctx->stream, 2, args) == dnnl_success && dnnl_stream_wait(ctx->stream) == dnnl_success;
  }
  if (s) dnnl_memory_destroy(s);
  if (t) dnnl_memory_destroy(t);
  if (prim) dnnl_primitive_destroy(prim);
  if (pd) dnnl_primitive_desc_destroy(pd);
  return ok;
}

int bert_gemm_pack_weights(bert_gemm_ctx *ctx, bert_packed_set *set, bert_precision p, int64_t rows, int64_t in,
                           int64_t out, const void *w, int force, bert_packed_weights *packed, bert_error *err) {
  packed->layout = NULL, packed->data = NULL;
  if (p == BERT_BF16 && !bert_gemm_bf16_native(ctx)) return BERT_OK; /* emulated: widened per call anyway */
  static const dnnl_data_type_t a_types[] = {dnnl_f32, dnnl_bf16, dnnl_u8}, b_types[] = {dnnl_f32, dnnl_bf16, dnnl_s8};
  bert_gemm_desc d = linear_desc(p, rows, in, out);
  dnnl_memory_desc_t plain, chosen;
  make_md(&plain, &d, d.k, d.n, d.b_stride, b_types[p]);
  if (!preferred_layout(ctx, &d, a_types[p], b_types[p], &chosen) || dnnl_memory_desc_equal(&plain, &chosen))
    return BERT_OK;
  int blocked = chosen.format_kind == dnnl_blocked &&
                (chosen.format_desc.blocking.inner_nblks > 0 || chosen.extra.flags != 0);
  if (!blocked && !force) return BERT_OK; /* another plain order: the kernel reads ours as well */
  const dnnl_memory_desc_t *layout = intern_layout(set, &chosen);
  void *data = layout ? new_block(set, dnnl_memory_desc_get_size(layout)) : NULL;
  if (!data) return bert_error_set(err, BERT_ENOMEM, "gemm: out of memory packing a %lldx%lld weight",
                                   (long long)out, (long long)in);
  if (!reorder(ctx, &plain, w, layout, data))
    return bert_error_set(err, BERT_EUNSUPPORTED, "gemm: oneDNN cannot reorder a %lldx%lld weight into its layout",
                          (long long)out, (long long)in);
  packed->layout = layout, packed->data = data, packed->serial = set->serial;
  return BERT_OK;
}
