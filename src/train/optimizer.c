#include "train/optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/half.h"

/* Elements per chunk: large enough to amortise the loop set-up, small enough to balance the
 * threads over a 30522 x 1024 embedding. The split is fixed, so sums never depend on threads. */
#define CHUNK ((size_t)1 << 14)

struct bert_opt_chunk {
  int param;
  size_t offset, size;
};

/* Per-step constants in the precision the element loops use. */
typedef struct step_consts {
  float b1, c1, b2, c2, eps, gs;
  float inv_bc1, inv_bc2; /* LAMB bias correction (1 when off) */
} step_consts;

void bert_optimizer_config_defaults(bert_optimizer_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = BERT_OPT_ADAMW;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->eps = 1e-6;
  cfg->max_weight_norm = 65500.0;
}

static const char *const KIND_NAMES[] = {"AdamW", "LAMB", "LAMBNoBiasCorrection"};

int bert_optimizer_kind_parse(const char *name, bert_optimizer_kind *out, bert_error *err) {
  for (int k = 0; k < 3; k++)
    if (name && !strcmp(name, KIND_NAMES[k])) {
      *out = (bert_optimizer_kind)k;
      return BERT_OK;
    }
  return bert_error_set(err, BERT_EINVAL,
                        "optimizer: invalid choice '%s' (choose from 'AdamW', 'LAMB', 'LAMBNoBiasCorrection')",
                        name ? name : "(null)");
}

const char *bert_optimizer_kind_name(bert_optimizer_kind kind) {
  return (unsigned)kind < 3 ? KIND_NAMES[kind] : "?";
}

bert_param_group bert_param_group_of(const bert_param *p) {
  if (strstr(p->name, "bias")) return BERT_GROUP_BIAS;
  if (p->ndim == 1) return BERT_GROUP_NORM;
  return BERT_GROUP_DECAY;
}

/* ---- element loops ---------------------------------------------------------------------------- */

/* `half` is a compile-time constant at every call site (the kernels are always inlined into a
 * dispatch with 0 or 1), so each variant compiles to its own branch-free loop. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The moment update shared by all optimizers; with a half first moment the stored (rounded) m
 * is what the step uses, so the saved state alone determines the next update. */
ALWAYS_INLINE float update_moments(size_t i, float g, float *restrict m, uint16_t *restrict mh, float *restrict v,
                                   const step_consts *k, int half, float *vi_out) {
  float mi = k->b1 * (half ? bert_f16_to_f32(mh[i]) : m[i]) + k->c1 * g;
  float vi = k->b2 * v[i] + k->c2 * (g * g);
  if (half) {
    mh[i] = bert_f32_to_f16(mi);
    mi = bert_f16_to_f32(mh[i]);
  } else {
    m[i] = mi;
  }
  v[i] = vi;
  *vi_out = vi;
  return mi;
}

/* AdamW (reference 4.2): w <- w - lr*wd*w - lr*m/(sqrt(v)+eps), no bias correction. */
ALWAYS_INLINE void adamw_chunk(size_t n, float *restrict w, const float *restrict g, float *restrict m,
                               uint16_t *restrict mh, float *restrict v, const step_consts *kp, int half, float lr,
                               float lr_wd) {
  const step_consts k = *kp;
  for (size_t i = 0; i < n; i++) {
    float vi, mi = update_moments(i, g[i] * k.gs, m, mh, v, &k, half, &vi);
    w[i] = w[i] - lr_wd * w[i] - lr * (mi / (sqrtf(vi) + k.eps));
  }
}

/* LAMB direction u = m_hat / (sqrt(v_hat) + eps) + wd * w; the same expression in both passes
 * gives the same float, so pass 2 recomputes u instead of storing it. */
ALWAYS_INLINE float lamb_direction(float mi, float vi, float wi, const step_consts *k, float wd) {
  return (mi * k->inv_bc1) / (sqrtf(vi * k->inv_bc2) + k->eps) + wd * wi;
}

/* LAMB pass 1: moments, and the chunk's sums of w^2 and u^2 in double. */
ALWAYS_INLINE void lamb_moments_chunk(size_t n, const float *restrict w, const float *restrict g,
                                      float *restrict m, uint16_t *restrict mh, float *restrict v,
                                      const step_consts *kp, int half, float wd, double *sums) {
  const step_consts k = *kp;
  double sw = 0.0, su = 0.0;
#pragma omp simd reduction(+ : sw, su)
  for (size_t i = 0; i < n; i++) {
    float vi, mi = update_moments(i, g[i] * k.gs, m, mh, v, &k, half, &vi);
    float u = lamb_direction(mi, vi, w[i], &k, wd);
    sw += (double)w[i] * (double)w[i];
    su += (double)u * (double)u;
  }
  sums[0] = sw;
  sums[1] = su;
}

/* LAMB pass 2: w <- w - (lr * trust) * u. */
ALWAYS_INLINE void lamb_apply_chunk(size_t n, float *restrict w, const float *restrict m,
                                    const uint16_t *restrict mh, const float *restrict v, const step_consts *kp,
                                    int half, float wd, float scale) {
  const step_consts k = *kp;
  for (size_t i = 0; i < n; i++) {
    float mi = half ? bert_f16_to_f32(mh[i]) : m[i];
    w[i] -= scale * lamb_direction(mi, v[i], w[i], &k, wd);
  }
}

/* ---- creation ------------------------------------------------------------------------------- */

static int validate_config(const bert_optimizer_config *c, bert_error *err) {
  if ((unsigned)c->kind > BERT_OPT_LAMB_NO_BIAS_CORRECTION)
    return bert_error_set(err, BERT_EINVAL, "optimizer: unknown kind %d", (int)c->kind);
  if (!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0))
    return bert_error_set(err, BERT_EINVAL, "optimizer: betas (%g, %g) must lie in [0, 1)", c->beta1, c->beta2);
  if (!(c->eps >= 0.0) || !isfinite(c->eps))
    return bert_error_set(err, BERT_EINVAL, "optimizer: eps %g must be finite and >= 0", c->eps);
  if (!isfinite(c->weight_decay))
    return bert_error_set(err, BERT_EINVAL, "optimizer: weight decay %g is not finite", c->weight_decay);
  if (!(c->max_weight_norm >= 0.0))
    return bert_error_set(err, BERT_EINVAL, "optimizer: max weight norm %g must be >= 0", c->max_weight_norm);
  return BERT_OK;
}

static int build_chunks(bert_optimizer *opt) {
  const bert_layout *l = opt->layout;
  int n = 0;
  for (int p = 0; p < l->count; p++) n += (int)((l->params[p].size + CHUNK - 1) / CHUNK);
  opt->chunks = calloc((size_t)(n ? n : 1), sizeof *opt->chunks);
  opt->partials = calloc((size_t)(2 * n + 2), sizeof *opt->partials);
  if (!opt->chunks || !opt->partials) return -1;
  opt->nchunks = 0;
  for (int p = 0; p < l->count; p++)
    for (size_t at = 0; at < l->params[p].size; at += CHUNK) {
      bert_opt_chunk *c = &opt->chunks[opt->nchunks++];
      c->param = p;
      c->offset = l->params[p].offset + at;
      c->size = l->params[p].size - at < CHUNK ? l->params[p].size - at : CHUNK;
    }
  return 0;
}

static void assign_groups(bert_optimizer *opt) {
  const bert_layout *l = opt->layout;
  for (int p = 0; p < l->count; p++) {
    bert_param_group g = bert_param_group_of(&l->params[p]);
    opt->groups[p] = (uint8_t)g;
    opt->weight_decay[p] = g == BERT_GROUP_DECAY ? opt->config.weight_decay : 0.0;
    opt->max_weight_norm[p] = g == BERT_GROUP_BIAS ? 0.0 : opt->config.max_weight_norm;
    opt->trust[p] = 1.0f;
    snprintf(opt->names[2 * p], sizeof opt->names[0], "exp_avg.%s", l->params[p].name);
    snprintf(opt->names[2 * p + 1], sizeof opt->names[0], "exp_avg_sq.%s", l->params[p].name);
  }
}

/* m occupies total floats (or halves, rounded up to 64 bytes), then v. */
static size_t first_moment_bytes(const bert_optimizer *opt) {
  size_t elem = opt->config.half_first_moment ? sizeof(uint16_t) : sizeof(float);
  return (opt->layout->total * elem + 63) & ~(size_t)63;
}

static int alloc_state(bert_optimizer *opt) {
  size_t mbytes = first_moment_bytes(opt);
  size_t vbytes = (opt->layout->total * sizeof(float) + 63) & ~(size_t)63;
  opt->state_bytes = mbytes + vbytes;
  opt->state = aligned_alloc(64, opt->state_bytes ? opt->state_bytes : 64);
  if (!opt->state) return -1;
  memset(opt->state, 0, opt->state_bytes);
  if (opt->config.half_first_moment) opt->m_half = opt->state;
  else opt->m = opt->state;
  opt->v = (float *)((char *)opt->state + mbytes);
  return 0;
}

int bert_optimizer_create(bert_optimizer *opt, const bert_layout *layout, const bert_optimizer_config *cfg,
                          bert_error *err) {
  memset(opt, 0, sizeof *opt);
  int rc = validate_config(cfg, err);
  if (rc) return rc;
  opt->config = *cfg;
  opt->layout = layout;
  size_t n = (size_t)(layout->count > 0 ? layout->count : 1);
  opt->groups = calloc(n, sizeof *opt->groups);
  opt->weight_decay = calloc(n, sizeof *opt->weight_decay);
  opt->max_weight_norm = calloc(n, sizeof *opt->max_weight_norm);
  opt->trust = calloc(n, sizeof *opt->trust);
  opt->names = calloc(2 * n, sizeof *opt->names);
  if (!opt->groups || !opt->weight_decay || !opt->max_weight_norm || !opt->trust || !opt->names ||
      build_chunks(opt) || alloc_state(opt)) {
    bert_optimizer_free(opt);
    return bert_error_set(err, BERT_ENOMEM, "optimizer: out of memory for the state of %zu parameters",
                          layout->total);
  }
  assign_groups(opt);
  return BERT_OK;
}

void bert_optimizer_free(bert_optimizer *opt) {
  free(opt->groups);
  free(opt->weight_decay);
  free(opt->max_weight_norm);
  free(opt->trust);
  free(opt->names);
  free(opt->chunks);
  free(opt->partials);
  free(opt->state);
  memset(opt, 0, sizeof *opt);
}

/* ---- the step ------------------------------------------------------------------------------- */

static step_consts make_consts(const bert_optimizer *opt, float grad_scale, int64_t t) {
  const bert_optimizer_config *c = &opt->config;
  step_consts k;
  /* 1 - beta in double first: (1 - 0.999f) would be 1.3e-5 away from 0.001 in relative terms. */
  k.b1 = (float)c->beta1;
  k.c1 = (float)(1.0 - c->beta1);
  k.b2 = (float)c->beta2;
  k.c2 = (float)(1.0 - c->beta2);
  k.eps = (float)c->eps;
  k.gs = grad_scale;
  k.inv_bc1 = k.inv_bc2 = 1.0f;
  if (c->kind == BERT_OPT_LAMB) {
    k.inv_bc1 = (float)(1.0 / (1.0 - pow(c->beta1, (double)t)));
    k.inv_bc2 = (float)(1.0 / (1.0 - pow(c->beta2, (double)t)));
  }
  return k;
}

static void step_adamw(bert_optimizer *opt, float *params, const float *grads, const step_consts *k, float lr) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < opt->nchunks; c++) {
    const bert_opt_chunk *ch = &opt->chunks[c];
    size_t o = ch->offset;
    float lr_wd = (float)((double)lr * opt->weight_decay[ch->param]);
    if (opt->m_half) adamw_chunk(ch->size, params + o, grads + o, NULL, opt->m_half + o, opt->v + o, k, 1, lr, lr_wd);
    else adamw_chunk(ch->size, params + o, grads + o, opt->m + o, NULL, opt->v + o, k, 0, lr, lr_wd);
  }
}

/* trust = r1 / r2 with r1 = min(||w||, max_weight_norm), r2 = ||u||; 1 when either is 0. */
static void lamb_trust(bert_optimizer *opt) {
  const bert_layout *l = opt->layout;
  int c = 0;
  for (int p = 0; p < l->count; p++) {
    double sw = 0.0, su = 0.0;
    for (; c < opt->nchunks && opt->chunks[c].param == p; c++) {
      sw += opt->partials[2 * c];
      su += opt->partials[2 * c + 1];
    }
    double r1 = sqrt(sw), r2 = sqrt(su);
    if (r1 > opt->max_weight_norm[p]) r1 = opt->max_weight_norm[p];
    opt->trust[p] = (r1 == 0.0 || r2 == 0.0) ? 1.0f : (float)(r1 / r2);
  }
}

static void step_lamb(bert_optimizer *opt, float *params, const float *grads, const step_consts *k, float lr) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < opt->nchunks; c++) {
    const bert_opt_chunk *ch = &opt->chunks[c];
    size_t o = ch->offset;
    float wd = (float)opt->weight_decay[ch->param];
    double *sums = &opt->partials[2 * c];
    if (opt->m_half)
      lamb_moments_chunk(ch->size, params + o, grads + o, NULL, opt->m_half + o, opt->v + o, k, 1, wd, sums);
    else
      lamb_moments_chunk(ch->size, params + o, grads + o, opt->m + o, NULL, opt->v + o, k, 0, wd, sums);
  }
  lamb_trust(opt);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < opt->nchunks; c++) {
    const bert_opt_chunk *ch = &opt->chunks[c];
    size_t o = ch->offset;
    /* trust was rounded to float above; the product with lr is formed in double then rounded. */
    float scale = (float)((double)lr * (double)opt->trust[ch->param]);
    float wd = (float)opt->weight_decay[ch->param];
    if (opt->m_half) lamb_apply_chunk(ch->size, params + o, NULL, opt->m_half + o, opt->v + o, k, 1, wd, scale);
    else lamb_apply_chunk(ch->size, params + o, opt->m + o, NULL, opt->v + o, k, 0, wd, scale);
  }
}

void bert_optimizer_step(bert_optimizer *opt, float *params, const float *grads, float grad_scale, float lr) {
  step_consts k = make_consts(opt, grad_scale, opt->step + 1);
  if (opt->config.kind == BERT_OPT_ADAMW) step_adamw(opt, params, grads, &k, lr);
  else step_lamb(opt, params, grads, &k, lr);
  opt->step++;
}

/* ---- state as named tensors ------------------------------------------------------------------ */

int bert_optimizer_state_count(const bert_optimizer *opt) { return 2 * opt->layout->count + 1; }

int bert_optimizer_state_entries(const bert_optimizer *opt, bert_st_entry *entries) {
  const bert_layout *l = opt->layout;
  int n = 0;
  for (int p = 0; p < l->count; p++) {
    const bert_param *par = &l->params[p];
    for (int which = 0; which < 2; which++) {
      bert_st_entry *e = &entries[n++];
      memset(e, 0, sizeof *e);
      e->name = opt->names[2 * p + which];
      e->ndim = par->ndim;
      e->shape[0] = par->shape[0];
      e->shape[1] = par->shape[1];
      if (which == 1) {
        e->dtype = BERT_ST_F32;
        e->data = opt->v + par->offset;
      } else if (opt->m_half) {
        e->dtype = BERT_ST_F16;
        e->data = opt->m_half + par->offset;
      } else {
        e->dtype = BERT_ST_F32;
        e->data = opt->m + par->offset;
      }
    }
  }
  bert_st_entry *e = &entries[n++];
  memset(e, 0, sizeof *e);
  e->name = "step";
  e->dtype = BERT_ST_I64;
  e->ndim = 0;
  e->data = &opt->step;
  return n;
}

static int check_tensor(const bert_param *p, const bert_st_tensor *t, const char *name, bert_error *err) {
  if (!t) return bert_error_set(err, BERT_EMISMATCH, "optimizer state: tensor '%s' is missing", name);
  if (!bert_st_is_float(t->dtype))
    return bert_error_set(err, BERT_EMISMATCH, "optimizer state: tensor '%s' has dtype %s, expected a float", name,
                          t->dtype_name);
  int same = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim < 2 || t->shape[1] == p->shape[1]);
  if (!same)
    return bert_error_set(err, BERT_EMISMATCH, "optimizer state: tensor '%s' has %d dims / %lld elements, expected "
                          "the parameter's shape (%lld elements)", name, t->ndim, (long long)t->numel,
                          (long long)p->size);
  return BERT_OK;
}

static int load_step(const bert_safetensors *st, int64_t *step, bert_error *err) {
  const bert_st_tensor *t = bert_safetensors_find(st, "step");
  if (!t) return bert_error_set(err, BERT_EMISMATCH, "optimizer state: tensor 'step' is missing");
  if (t->dtype != BERT_ST_I64 || t->numel != 1)
    return bert_error_set(err, BERT_EMISMATCH, "optimizer state: 'step' must be one I64 value (%s, %lld elements)",
                          t->dtype_name, (long long)t->numel);
  memcpy(step, t->data, sizeof *step); /* safetensors is little-endian, as every target of bertc */
  if (*step < 0) return bert_error_set(err, BERT_EFORMAT, "optimizer state: negative step %lld", (long long)*step);
  return BERT_OK;
}

/* Copies one first moment into the half store: raw bits for F16 (exact), else via fp32. */
static int load_half(uint16_t *dst, const bert_st_tensor *t, float *scratch, bert_error *err) {
  if (t->dtype == BERT_ST_F16) {
    memcpy(dst, t->data, (size_t)t->numel * sizeof *dst);
    return BERT_OK;
  }
  int rc = bert_st_to_f32(t, scratch, err);
  if (rc) return rc;
  for (int64_t i = 0; i < t->numel; i++) dst[i] = bert_f32_to_f16(scratch[i]);
  return BERT_OK;
}

static int copy_state(bert_optimizer *opt, const bert_safetensors *st, bert_error *err) {
  const bert_layout *l = opt->layout;
  size_t largest = 1;
  for (int p = 0; p < l->count; p++)
    if (l->params[p].size > largest) largest = l->params[p].size;
  float *scratch = opt->m_half ? malloc(largest * sizeof *scratch) : NULL;
  if (opt->m_half && !scratch) return bert_error_set(err, BERT_ENOMEM, "optimizer state: out of memory");
  int rc = BERT_OK;
  for (int p = 0; p < l->count && !rc; p++) {
    size_t o = l->params[p].offset;
    const bert_st_tensor *tm = bert_safetensors_find(st, opt->names[2 * p]);
    const bert_st_tensor *tv = bert_safetensors_find(st, opt->names[2 * p + 1]);
    rc = opt->m_half ? load_half(opt->m_half + o, tm, scratch, err) : bert_st_to_f32(tm, opt->m + o, err);
    if (!rc) rc = bert_st_to_f32(tv, opt->v + o, err);
  }
  free(scratch);
  return rc;
}

int bert_optimizer_state_load(bert_optimizer *opt, const bert_safetensors *st, bert_error *err) {
  const bert_layout *l = opt->layout;
  for (int p = 0; p < l->count; p++)
    for (int which = 0; which < 2; which++) {
      const char *name = opt->names[2 * p + which];
      int rc = check_tensor(&l->params[p], bert_safetensors_find(st, name), name, err);
      if (rc) return rc;
    }
  int64_t step = 0;
  int rc = load_step(st, &step, err);
  if (rc) return rc;
  rc = copy_state(opt, st, err);
  if (rc) return bert_error_prefix(err, "optimizer state: ");
  opt->step = step;
  return BERT_OK;
}

int bert_optimizer_save(const bert_optimizer *opt, const char *path, bert_error *err) {
  int n = bert_optimizer_state_count(opt);
  bert_st_entry *entries = calloc((size_t)n, sizeof *entries);
  if (!entries) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  bert_optimizer_state_entries(opt, entries);
  const char *meta[] = {"optimizer", bert_optimizer_kind_name(opt->config.kind), "format", "bertc-optimizer-state"};
  int rc = bert_safetensors_write(path, entries, n, meta, 2, err);
  free(entries);
  return rc;
}

int bert_optimizer_load(bert_optimizer *opt, const char *path, bert_error *err) {
  bert_safetensors st;
  int rc = bert_safetensors_open(&st, path, err);
  if (rc) return rc;
  rc = bert_optimizer_state_load(opt, &st, err);
  if (rc) bert_error_prefix(err, "%s: ", path);
  bert_safetensors_close(&st);
  return rc;
}
