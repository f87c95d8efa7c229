#include "io/torch_pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/mapfile.h"
#include "io/zip.h"

/* ================================================================ values of the unpickler */

typedef enum pk_kind {
  PK_MARK, PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT,
  PK_GLOBAL, PK_STORAGE, PK_TENSOR
} pk_kind;

static const char *const KIND_NAMES[] = {"mark", "None", "bool", "int", "float", "str", "bytes",
                                         "tuple", "list", "dict", "global", "storage", "tensor"};

/* The only callables a state dict needs. */
enum { G_ORDERED_DICT = 1, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_STORAGE };

static const struct {
  const char *name;
  bert_st_dtype dtype;
} STORAGE_CLASSES[] = {
    {"FloatStorage", BERT_ST_F32}, {"HalfStorage", BERT_ST_F16}, {"BFloat16Storage", BERT_ST_BF16},
    {"DoubleStorage", BERT_ST_F64}, {"LongStorage", BERT_ST_I64}, {"IntStorage", BERT_ST_I32},
    {"ShortStorage", BERT_ST_I16}, {"CharStorage", BERT_ST_I8}, {"ByteStorage", BERT_ST_U8},
    {"BoolStorage", BERT_ST_BOOL},
};

typedef struct pk_obj pk_obj;
struct pk_obj {
  pk_kind kind;
  pk_obj *next;              /* every object is on one list, freed together */
  int64_t i;                 /* INT, BOOL; STORAGE: element count */
  double f;
  char *s;                   /* STR, BYTES */
  size_t len;
  pk_obj **items;            /* TUPLE, LIST; DICT as key, value, key, value ... */
  size_t n, cap;
  int global;                /* GLOBAL: G_*; */
  bert_st_dtype dtype;       /* GLOBAL G_STORAGE, STORAGE */
  pk_obj *storage;           /* TENSOR: its STORAGE; STORAGE: its key (a STR) */
  int64_t offset;
  int ndim;
  int64_t shape[BERT_ST_MAX_DIMS], stride[BERT_ST_MAX_DIMS];
};

typedef struct unpickler {
  const unsigned char *p;
  size_t n, pos, op_pos;
  char source[4200];         /* "file: archive/data.pkl" for messages */
  pk_obj *objects;
  pk_obj **stack;
  size_t sp, stack_cap;
  pk_obj **memo;
  size_t memo_cap, memo_len;
  pk_obj mark;               /* MARK pushes this sentinel ... */
  size_t *marks;             /* ... and its stack index here (Python's metastack) */
  size_t mark_count, marks_cap;
  bert_error *err;
} unpickler;

static int fail(unpickler *u, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(unpickler *u, int code, const char *fmt, ...) {
  char what[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return bert_error_set(u->err, code, "%s: byte %zu: %s", u->source, u->op_pos, what);
}

static pk_obj *new_obj(unpickler *u, pk_kind kind) {
  pk_obj *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->kind = kind;
  o->next = u->objects;
  u->objects = o;
  return o;
}

static void free_objects(unpickler *u) {
  for (pk_obj *o = u->objects, *next; o; o = next) {
    next = o->next;
    free(o->s);
    free(o->items);
    free(o);
  }
  u->objects = NULL;
  free(u->stack);
  free(u->memo);
  free(u->marks);
}

static int oom(unpickler *u) { return fail(u, BERT_ENOMEM, "out of memory"); }

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *p = realloc(*arr, c * elem);
  if (!p) return 0;
  *arr = p;
  *cap = c;
  return 1;
}

static int push(unpickler *u, pk_obj *o) {
  if (!o) return oom(u);
  if (!grow((void **)&u->stack, &u->stack_cap, u->sp + 1, sizeof *u->stack)) return oom(u);
  u->stack[u->sp++] = o;
  return BERT_OK;
}

static int pop(unpickler *u, pk_obj **o) {
  if (!u->sp || u->stack[u->sp - 1] == &u->mark) return fail(u, BERT_EFORMAT, "stack underflow");
  *o = u->stack[--u->sp];
  return BERT_OK;
}

static int top(unpickler *u, pk_obj **o) {
  if (!u->sp || u->stack[u->sp - 1] == &u->mark) return fail(u, BERT_EFORMAT, "stack underflow");
  *o = u->stack[u->sp - 1];
  return BERT_OK;
}

static int push_mark(unpickler *u) {
  if (!grow((void **)&u->marks, &u->marks_cap, u->mark_count + 1, sizeof *u->marks)) return oom(u);
  u->marks[u->mark_count++] = u->sp;
  return push(u, &u->mark);
}

/* Takes the topmost MARK (every caller consumes it): the items above it are stack[*k + 1 .. sp).
 * Marks can only leave the stack this way (pop refuses them), so the index is always current. */
static int find_mark(unpickler *u, size_t *k) {
  if (!u->mark_count) return fail(u, BERT_EFORMAT, "no MARK on the stack");
  *k = u->marks[--u->mark_count];
  return BERT_OK;
}

static int add_item(unpickler *u, pk_obj *c, pk_obj *item) {
  if (!grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items)) return oom(u);
  c->items[c->n++] = item;
  return BERT_OK;
}

static int need(unpickler *u, size_t count, const unsigned char **p) {
  if (count > u->n - u->pos) return fail(u, BERT_EFORMAT, "truncated pickle");
  *p = u->p + u->pos;
  u->pos += count;
  return BERT_OK;
}

static uint64_t le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* ================================================================ opcodes: plain data */

static int push_int(unpickler *u, pk_kind kind, int64_t v) {
  pk_obj *o = new_obj(u, kind);
  if (o) o->i = v;
  return push(u, o);
}

static int op_int(unpickler *u, unsigned char op) {
  const unsigned char *p = NULL;
  int rc;
  if (op == 'K' || op == 'M') {
    int bytes = op == 'K' ? 1 : 2;
    return (rc = need(u, (size_t)bytes, &p)) ? rc : push_int(u, PK_INT, (int64_t)le(p, bytes));
  }
  if (op == 'J') return (rc = need(u, 4, &p)) ? rc : push_int(u, PK_INT, (int32_t)(uint32_t)le(p, 4));
  /* LONG1: a little-endian two's complement integer of n bytes; we keep those fitting int64 */
  if ((rc = need(u, 1, &p))) return rc;
  int bytes = p[0];
  if (bytes > 8) return fail(u, BERT_EUNSUPPORTED, "integer of %d bytes is too large", bytes);
  if ((rc = need(u, (size_t)bytes, &p))) return rc;
  uint64_t v = bytes ? le(p, bytes) : 0;
  if (bytes && bytes < 8 && (p[bytes - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * bytes); /* sign-extend */
  return push_int(u, PK_INT, (int64_t)v);
}

static int op_float(unpickler *u) {
  const unsigned char *p = NULL;
  int rc = need(u, 8, &p);
  if (rc) return rc;
  uint64_t bits = 0;
  for (int i = 0; i < 8; i++) bits = bits << 8 | p[i]; /* BINFLOAT is big-endian */
  pk_obj *o = new_obj(u, PK_FLOAT);
  if (o) memcpy(&o->f, &bits, sizeof o->f);
  return push(u, o);
}

static int op_string(unpickler *u, unsigned char op) {
  int width = op == 0x8c || op == 'C' ? 1 : op == 'X' || op == 'B' ? 4 : 8;
  const unsigned char *p = NULL;
  int rc = need(u, (size_t)width, &p);
  if (rc) return rc;
  uint64_t len = le(p, width);
  if (len > u->n - u->pos) return fail(u, BERT_EFORMAT, "truncated pickle (string of %llu bytes)", (unsigned long long)len);
  need(u, (size_t)len, &p);
  int is_text = op == 'X' || op == 0x8c || op == 0x8d;
  if (is_text && memchr(p, 0, (size_t)len)) return fail(u, BERT_EFORMAT, "string with a NUL byte");
  pk_obj *o = new_obj(u, is_text ? PK_STR : PK_BYTES);
  if (!o || !(o->s = malloc((size_t)len + 1))) return oom(u);
  memcpy(o->s, p, (size_t)len);
  o->s[len] = 0;
  o->len = (size_t)len;
  return push(u, o);
}

static int op_proto(unpickler *u) {
  const unsigned char *p = NULL;
  int rc = need(u, 1, &p);
  if (!rc && p[0] > 5) rc = fail(u, BERT_EUNSUPPORTED, "pickle protocol %d", p[0]);
  return rc;
}

/* ================================================================ opcodes: containers */

static int op_tuple(unpickler *u, unsigned char op) {
  size_t first = 0, count;
  if (op == 't') {
    int rc = find_mark(u, &first);
    if (rc) return rc;
    count = u->sp - first - 1;
    first++;
  } else {
    count = (size_t)(op - 0x84); /* TUPLE1..3 */
    for (size_t i = 0; i < count; i++)
      if (i >= u->sp || u->stack[u->sp - 1 - i] == &u->mark) return fail(u, BERT_EFORMAT, "stack underflow");
    first = u->sp - count;
  }
  pk_obj *t = new_obj(u, PK_TUPLE);
  if (!t) return oom(u);
  for (size_t i = 0; i < count; i++)
    if (add_item(u, t, u->stack[first + i])) return BERT_ENOMEM;
  u->sp = op == 't' ? first - 1 : first;
  return push(u, t);
}

/* APPEND(S) / SETITEM(S): the container sits below the items (and below the MARK). */
static int op_setitems(unpickler *u, int many, int is_dict) {
  size_t group = is_dict ? 2 : 1, first = 0;
  if (many) {
    int rc = find_mark(u, &first);
    if (rc) return rc;
    first++;
  } else {
    first = u->sp >= group ? u->sp - group : 0;
    for (size_t i = first; i < u->sp; i++)
      if (u->stack[i] == &u->mark) return fail(u, BERT_EFORMAT, "stack underflow");
    if (u->sp - first != group) return fail(u, BERT_EFORMAT, "stack underflow");
  }
  size_t container = many ? first - 2 : first - 1; /* below the MARK, or below the items */
  if (first < (many ? 2u : 1u) || u->stack[container] == &u->mark) return fail(u, BERT_EFORMAT, "stack underflow");
  pk_obj *c = u->stack[container];
  if (c->kind != (is_dict ? PK_DICT : PK_LIST))
    return fail(u, BERT_EFORMAT, "%s on a %s", is_dict ? "SETITEM" : "APPEND", KIND_NAMES[c->kind]);
  if ((u->sp - first) % group) return fail(u, BERT_EFORMAT, "odd number of items for SETITEMS");
  for (size_t i = first; i < u->sp; i++)
    if (add_item(u, c, u->stack[i])) return BERT_ENOMEM;
  u->sp = container + 1;
  return BERT_OK;
}

static int op_pop_mark(unpickler *u) {
  size_t k = 0;
  int rc = find_mark(u, &k);
  if (!rc) u->sp = k;
  return rc;
}

static int op_dup(unpickler *u) {
  pk_obj *o = NULL;
  int rc = top(u, &o);
  return rc ? rc : push(u, o);
}

/* ================================================================ opcodes: memo */

static int op_put(unpickler *u, unsigned char op) {
  size_t idx = u->memo_len;
  if (op != 0x94) {
    const unsigned char *p = NULL;
    int rc = need(u, op == 'q' ? 1 : 4, &p);
    if (rc) return rc;
    idx = (size_t)le(p, op == 'q' ? 1 : 4);
  }
  /* picklers number memo entries 0, 1, 2 ...: an index beyond the pickle's length is corruption */
  if (idx > u->n) return fail(u, BERT_EFORMAT, "memo index %zu out of range", idx);
  pk_obj *o = NULL;
  int rc = top(u, &o);
  if (rc) return rc;
  size_t old = u->memo_cap;
  if (!grow((void **)&u->memo, &u->memo_cap, idx + 1, sizeof *u->memo)) return oom(u);
  if (u->memo_cap > old) memset(u->memo + old, 0, (u->memo_cap - old) * sizeof *u->memo);
  if (!u->memo[idx]) u->memo_len++;
  u->memo[idx] = o;
  return BERT_OK;
}

static int op_get(unpickler *u, unsigned char op) {
  const unsigned char *p = NULL;
  int rc = need(u, op == 'h' ? 1 : 4, &p);
  if (rc) return rc;
  size_t idx = (size_t)le(p, op == 'h' ? 1 : 4);
  if (idx >= u->memo_cap || !u->memo[idx]) return fail(u, BERT_EFORMAT, "memo index %zu was never set", idx);
  return push(u, u->memo[idx]);
}

/* ================================================================ opcodes: globals and calls */

static int resolve_global(unpickler *u, const char *module, const char *name) {
  pk_obj *g = new_obj(u, PK_GLOBAL);
  if (!g) return oom(u);
  if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict")) g->global = G_ORDERED_DICT;
  if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) g->global = G_REBUILD_TENSOR;
  if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_parameter")) g->global = G_REBUILD_PARAMETER;
  for (size_t i = 0; !strcmp(module, "torch") && i < sizeof STORAGE_CLASSES / sizeof STORAGE_CLASSES[0]; i++)
    if (!strcmp(name, STORAGE_CLASSES[i].name)) {
      g->global = G_STORAGE;
      g->dtype = STORAGE_CLASSES[i].dtype;
    }
  if (!g->global)
    return fail(u, BERT_EUNSUPPORTED, "forbidden global '%.100s.%.100s': only state dicts of tensors are read (no code is run)",
                module, name);
  return push(u, g);
}

static int read_line(unpickler *u, char *out, size_t cap) {
  const unsigned char *start = u->p + u->pos, *nl = memchr(start, '\n', u->n - u->pos);
  if (!nl) return fail(u, BERT_EFORMAT, "truncated pickle (GLOBAL)");
  size_t len = (size_t)(nl - start);
  if (len >= cap) return fail(u, BERT_EUNSUPPORTED, "GLOBAL name too long");
  memcpy(out, start, len);
  out[len] = 0;
  u->pos += len + 1;
  return BERT_OK;
}

static int op_global(unpickler *u) {
  char module[256], name[256];
  int rc = read_line(u, module, sizeof module);
  if (!rc) rc = read_line(u, name, sizeof name);
  return rc ? rc : resolve_global(u, module, name);
}

static int op_stack_global(unpickler *u) {
  pk_obj *name = NULL, *module = NULL;
  int rc = pop(u, &name);
  if (!rc) rc = pop(u, &module);
  if (rc) return rc;
  if (name->kind != PK_STR || module->kind != PK_STR) return fail(u, BERT_EFORMAT, "STACK_GLOBAL needs two strings");
  return resolve_global(u, module->s, name->s);
}

static int int_tuple(unpickler *u, const pk_obj *t, int64_t *out, const char *what) {
  if (t->kind != PK_TUPLE) return fail(u, BERT_EFORMAT, "tensor %s is a %s, not a tuple", what, KIND_NAMES[t->kind]);
  if (t->n > BERT_ST_MAX_DIMS) return fail(u, BERT_EUNSUPPORTED, "tensor with %zu dimensions", t->n);
  for (size_t i = 0; i < t->n; i++) {
    if (t->items[i]->kind != PK_INT || t->items[i]->i < 0)
      return fail(u, BERT_EFORMAT, "tensor %s holds a non-integer or negative value", what);
    out[i] = t->items[i]->i;
  }
  return BERT_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static int rebuild_tensor(unpickler *u, const pk_obj *args) {
  if (args->n != 6 && args->n != 7) return fail(u, BERT_EFORMAT, "_rebuild_tensor_v2 with %zu arguments", args->n);
  pk_obj *const *a = args->items;
  if (a[0]->kind != PK_STORAGE) return fail(u, BERT_EFORMAT, "_rebuild_tensor_v2 on a %s, not a storage", KIND_NAMES[a[0]->kind]);
  if (a[1]->kind != PK_INT || a[1]->i < 0) return fail(u, BERT_EFORMAT, "bad tensor storage offset");
  if (a[2]->kind != PK_TUPLE || a[3]->kind != PK_TUPLE || a[2]->n != a[3]->n)
    return fail(u, BERT_EFORMAT, "tensor size and stride disagree");
  if (a[5]->kind != PK_DICT || (args->n == 7 && a[6]->kind != PK_DICT && a[6]->kind != PK_NONE))
    return fail(u, BERT_EFORMAT, "bad _rebuild_tensor_v2 hooks or metadata");
  pk_obj *t = new_obj(u, PK_TENSOR);
  if (!t) return oom(u);
  t->storage = a[0];
  t->offset = a[1]->i;
  t->ndim = (int)a[2]->n;
  int rc = int_tuple(u, a[2], t->shape, "size");
  if (!rc) rc = int_tuple(u, a[3], t->stride, "stride");
  return rc ? rc : push(u, t);
}

static int op_reduce(unpickler *u) {
  pk_obj *args = NULL, *fn = NULL;
  int rc = pop(u, &args);
  if (!rc) rc = pop(u, &fn);
  if (rc) return rc;
  if (fn->kind != PK_GLOBAL) return fail(u, BERT_EFORMAT, "REDUCE calls a %s", KIND_NAMES[fn->kind]);
  if (args->kind != PK_TUPLE) return fail(u, BERT_EFORMAT, "REDUCE arguments are a %s", KIND_NAMES[args->kind]);
  switch (fn->global) {
  case G_ORDERED_DICT:
    if (args->n) return fail(u, BERT_EUNSUPPORTED, "OrderedDict called with arguments");
    return push(u, new_obj(u, PK_DICT));
  case G_REBUILD_TENSOR:
    return rebuild_tensor(u, args);
  case G_REBUILD_PARAMETER: /* (tensor, requires_grad, hooks): the parameter is its tensor */
    if (args->n != 3 || args->items[0]->kind != PK_TENSOR) return fail(u, BERT_EFORMAT, "bad _rebuild_parameter arguments");
    return push(u, args->items[0]);
  default:
    return fail(u, BERT_EUNSUPPORTED, "a storage class is called");
  }
}

/* BUILD sets an object's state; torch uses it only for the OrderedDict's `_metadata`
 * attribute, which we do not need. */
static int op_build(unpickler *u) {
  pk_obj *state = NULL, *obj = NULL;
  int rc = pop(u, &state);
  if (!rc) rc = top(u, &obj);
  if (rc) return rc;
  if (obj->kind != PK_DICT || (state->kind != PK_DICT && state->kind != PK_NONE))
    return fail(u, BERT_EUNSUPPORTED, "BUILD of a %s with a %s state", KIND_NAMES[obj->kind], KIND_NAMES[state->kind]);
  return BERT_OK;
}

/* Persistent id ('storage', <Type>Storage, key, location, numel): a storage in data/<key>. */
static int op_persid(unpickler *u) {
  pk_obj *pid = NULL;
  int rc = pop(u, &pid);
  if (rc) return rc;
  pk_obj *const *a = pid->items;
  if (pid->kind != PK_TUPLE || pid->n != 5 || a[0]->kind != PK_STR || strcmp(a[0]->s, "storage") ||
      a[1]->kind != PK_GLOBAL || a[1]->global != G_STORAGE || a[2]->kind != PK_STR || a[3]->kind != PK_STR ||
      a[4]->kind != PK_INT || a[4]->i < 0)
    return fail(u, BERT_EUNSUPPORTED, "persistent id is not ('storage', <Type>Storage, key, location, numel)");
  pk_obj *s = new_obj(u, PK_STORAGE);
  if (!s) return oom(u);
  s->dtype = a[1]->dtype;
  s->i = a[4]->i;
  s->storage = a[2]; /* the key: a string object, alive until the end */
  return push(u, s);
}

static int push_new(unpickler *u, pk_kind kind) { return push(u, new_obj(u, kind)); }

static int step(unpickler *u, unsigned char op) {
  switch (op) {
  case 0x80: return op_proto(u);
  case 0x95: { const unsigned char *p = NULL; return need(u, 8, &p); } /* FRAME: only a hint */
  case '(': return push_mark(u);
  case '0': { pk_obj *o = NULL; return pop(u, &o); }
  case '1': return op_pop_mark(u);
  case '2': return op_dup(u);
  case 'N': return push_new(u, PK_NONE);
  case 0x88: case 0x89: return push_int(u, PK_BOOL, op == 0x88);
  case 'J': case 'K': case 'M': case 0x8a: return op_int(u, op);
  case 'G': return op_float(u);
  case 'X': case 0x8c: case 0x8d: case 'B': case 'C': case 0x8e: return op_string(u, op);
  case ')': return push_new(u, PK_TUPLE);
  case ']': return push_new(u, PK_LIST);
  case '}': return push_new(u, PK_DICT);
  case 't': case 0x85: case 0x86: case 0x87: return op_tuple(u, op);
  case 'a': case 'e': return op_setitems(u, op == 'e', 0);
  case 's': case 'u': return op_setitems(u, op == 'u', 1);
  case 'c': return op_global(u);
  case 0x93: return op_stack_global(u);
  case 'R': return op_reduce(u);
  case 'b': return op_build(u);
  case 'Q': return op_persid(u);
  case 'q': case 'r': case 0x94: return op_put(u, op);
  case 'h': case 'j': return op_get(u, op);
  default: return fail(u, BERT_EUNSUPPORTED, "unsupported pickle opcode 0x%02x", op);
  }
}

static int unpickle(unpickler *u, pk_obj **result) {
  while (u->pos < u->n) {
    u->op_pos = u->pos;
    unsigned char op = u->p[u->pos++];
    if (op == '.') return pop(u, result);
    int rc = step(u, op);
    if (rc) return rc;
  }
  u->op_pos = u->pos;
  return fail(u, BERT_EFORMAT, "truncated pickle: no STOP opcode");
}

/* ================================================================ state dict -> tensors */

typedef struct loader {
  bert_torch_file *tf;
  bert_zip *zip;
  const char *prefix;   /* the archive folder, e.g. "archive" */
  bert_error *err;
} loader;

/* The bytes of a storage: <prefix>/data/<key>, exactly numel x element size. */
static int storage_bytes(loader *l, const pk_obj *s, const unsigned char **data, bert_error *err) {
  const char *key = s->storage->s;
  char name[1024];
  if (snprintf(name, sizeof name, "%s/data/%s", l->prefix, key) >= (int)sizeof name)
    return bert_error_set(err, BERT_EFORMAT, "%s: storage key too long", l->tf->path);
  bert_zip_entry *e = bert_zip_find(l->zip, name);
  if (!e) return bert_error_set(err, BERT_EFORMAT, "%s: storage '%s' is missing from the archive", l->tf->path, name);
  size_t size;
  int rc = bert_zip_data(l->zip, e, data, &size, err);
  if (rc) return rc;
  size_t es = bert_st_dtype_size(s->dtype);
  if ((uint64_t)s->i > SIZE_MAX / es || size != (size_t)s->i * es)
    return bert_error_set(err, BERT_EFORMAT, "%s: storage '%s' has %zu bytes, expected %lld x %zu", l->tf->path, name,
                          size, (long long)s->i, es);
  return BERT_OK;
}

/* Element count, and 1 + the largest storage index the view touches (0 when empty). */
static int view_extent(const pk_obj *t, int64_t *numel, int64_t *extent) {
  int64_t n = 1, last = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    int64_t step;
    if (__builtin_mul_overflow(n, t->shape[d], &n)) return 0;
    if (t->shape[d] && (__builtin_mul_overflow(t->shape[d] - 1, t->stride[d], &step) ||
                        __builtin_add_overflow(last, step, &last)))
      return 0;
  }
  *numel = n;
  *extent = n ? last + 1 : 0;
  return 1;
}

static int is_contiguous(const pk_obj *t) {
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
    expect *= t->shape[d];
  }
  return 1;
}

/* Copies a strided view out in row-major order, walking the multi-index like an odometer. */
static void gather(const unsigned char *src, size_t es, const pk_obj *t, int64_t numel, unsigned char *dst) {
  int64_t idx[BERT_ST_MAX_DIMS] = {0}, off = t->offset;
  for (int64_t k = 0; k < numel; k++) {
    memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) {
        off += t->stride[d];
        break;
      }
      off -= (idx[d] - 1) * t->stride[d];
      idx[d] = 0;
    }
  }
}

static int keep_copy(bert_torch_file *tf, void *p) {
  void **c = realloc(tf->copies, (size_t)(tf->copy_count + 1) * sizeof *c);
  if (!c) return 0;
  tf->copies = c;
  tf->copies[tf->copy_count++] = p;
  return 1;
}

static int materialise(loader *l, const char *name, const pk_obj *t, bert_st_tensor *out) {
  bert_error *err = l->err;
  const pk_obj *s = t->storage;
  const unsigned char *data = NULL;
  int rc = storage_bytes(l, s, &data, err);
  if (rc) return rc;
  int64_t numel, extent;
  if (!view_extent(t, &numel, &extent) || extent > s->i)
    return bert_error_set(err, BERT_EFORMAT, "%s: tensor '%s' reaches beyond its storage of %lld elements", l->tf->path,
                          name, (long long)s->i);
  size_t es = bert_st_dtype_size(s->dtype);
  out->dtype = s->dtype;
  snprintf(out->dtype_name, sizeof out->dtype_name, "%s", bert_st_dtype_str(s->dtype));
  out->ndim = t->ndim;
  memcpy(out->shape, t->shape, sizeof out->shape);
  out->numel = numel;
  out->nbytes = (size_t)numel * es;
  if (is_contiguous(t)) {
    out->data = data + (size_t)t->offset * es;
    return BERT_OK;
  }
  unsigned char *copy = malloc(out->nbytes ? out->nbytes : 1);
  if (!copy || !keep_copy(l->tf, copy)) {
    free(copy);
    return bert_error_set(err, BERT_ENOMEM, "%s: out of memory copying tensor '%s'", l->tf->path, name);
  }
  gather(data, es, t, numel, copy);
  out->data = copy;
  return BERT_OK;
}

static int cmp_tensor_name(const void *a, const void *b) {
  return strcmp((*(const bert_st_tensor *const *)a)->name, (*(const bert_st_tensor *const *)b)->name);
}

static int check_unique_names(bert_torch_file *tf, bert_error *err) {
  if (tf->count < 2) return BERT_OK;
  const bert_st_tensor **order = malloc((size_t)tf->count * sizeof *order);
  if (!order) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", tf->path);
  for (int i = 0; i < tf->count; i++) order[i] = &tf->tensors[i];
  qsort(order, (size_t)tf->count, sizeof *order, cmp_tensor_name);
  int rc = BERT_OK;
  for (int i = 1; i < tf->count && !rc; i++)
    if (!strcmp(order[i]->name, order[i - 1]->name))
      rc = bert_error_set(err, BERT_EFORMAT, "%s: tensor '%s' appears twice in the state dict", tf->path, order[i]->name);
  free(order);
  return rc;
}

static int collect_tensors(loader *l, const pk_obj *root) {
  bert_torch_file *tf = l->tf;
  if (root->kind != PK_DICT)
    return bert_error_set(l->err, BERT_EUNSUPPORTED, "%s: the pickle holds a %s, not a state dict", tf->path,
                          KIND_NAMES[root->kind]);
  size_t n = root->n / 2;
  tf->tensors = calloc(n ? n : 1, sizeof *tf->tensors);
  if (!tf->tensors) return bert_error_set(l->err, BERT_ENOMEM, "%s: out of memory", tf->path);
  for (size_t i = 0; i < n; i++) {
    const pk_obj *k = root->items[2 * i], *v = root->items[2 * i + 1];
    if (k->kind != PK_STR) return bert_error_set(l->err, BERT_EUNSUPPORTED, "%s: state dict key is a %s", tf->path, KIND_NAMES[k->kind]);
    if (v->kind != PK_TENSOR)
      return bert_error_set(l->err, BERT_EUNSUPPORTED, "%s: state dict entry '%s' is a %s, not a tensor", tf->path, k->s,
                            KIND_NAMES[v->kind]);
    bert_st_tensor *t = &tf->tensors[tf->count++];
    if (!(t->name = strdup(k->s))) return bert_error_set(l->err, BERT_ENOMEM, "%s: out of memory", tf->path);
    int rc = materialise(l, k->s, v, t);
    if (rc) return rc;
  }
  return check_unique_names(tf, l->err);
}

static int load_pickle(loader *l, const char *entry_name, const unsigned char *p, size_t n) {
  unpickler *u = calloc(1, sizeof *u);
  if (!u) return bert_error_set(l->err, BERT_ENOMEM, "%s: out of memory", l->tf->path);
  u->p = p;
  u->n = n;
  u->err = l->err;
  u->mark.kind = PK_MARK;
  snprintf(u->source, sizeof u->source, "%s: %s", l->tf->path, entry_name);
  pk_obj *root = NULL;
  int rc = unpickle(u, &root);
  if (!rc) rc = collect_tensors(l, root);
  free_objects(u);
  free(u);
  return rc;
}

/* ================================================================ the file */

/* torch.save before 1.6 wrote pickles back to back, starting with protocol 2 and the magic
 * number 0x1950a86a20f9469cfc6c as a LONG1. */
static const unsigned char LEGACY_MAGIC[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int check_magic(const bert_torch_file *tf, bert_error *err) {
  const unsigned char *b = tf->buf;
  if (tf->size >= 4 && !memcmp(b, "PK\x03\x04", 4)) return BERT_OK;
  if (tf->size >= 4 && !memcmp(b, "PK\x05\x06", 4))
    return bert_error_set(err, BERT_EFORMAT, "%s: empty zip archive, not a PyTorch checkpoint", tf->path);
  if (tf->size >= sizeof LEGACY_MAGIC && !memcmp(b, LEGACY_MAGIC, sizeof LEGACY_MAGIC))
    return bert_error_set(err, BERT_EUNSUPPORTED,
                          "%s: unsupported: legacy torch.save format (PyTorch < 1.6); re-save it with torch>=1.6 "
                          "(torch.save(torch.load(path), path)) or convert it to safetensors", tf->path);
  if (tf->size >= 1 && b[0] == 0x80)
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: a bare pickle, not a PyTorch zip checkpoint", tf->path);
  return bert_error_set(err, BERT_EFORMAT, "%s: not a PyTorch checkpoint (%s)", tf->path,
                        tf->size ? "neither a zip archive nor a pickle" : "empty file");
}

/* The pickle is <archive>/data.pkl where <archive> is a single folder name (torch names it after
 * the file or "archive"). */
static bert_zip_entry *find_data_pkl(bert_zip *z, char *prefix, size_t cap) {
  for (int i = 0; i < z->count; i++) {
    const char *name = z->entries[i].name, *slash = strchr(name, '/');
    if (!slash || slash == name || strcmp(slash, "/data.pkl") || (size_t)(slash - name) >= cap) continue;
    memcpy(prefix, name, (size_t)(slash - name));
    prefix[slash - name] = 0;
    return &z->entries[i];
  }
  return NULL;
}

static int check_byteorder(bert_torch_file *tf, bert_zip *z, const char *prefix, bert_error *err) {
  char name[1100];
  snprintf(name, sizeof name, "%s/byteorder", prefix);
  bert_zip_entry *e = bert_zip_find(z, name);
  if (!e) return BERT_OK; /* older writers: always little-endian */
  const unsigned char *p = NULL;
  size_t n = 0;
  int rc = bert_zip_data(z, e, &p, &n, err);
  if (rc) return rc;
  if (n != 6 || memcmp(p, "little", 6))
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: big-endian checkpoints are not supported", tf->path);
  return BERT_OK;
}

static int read_archive(bert_torch_file *tf, bert_zip *z, bert_error *err) {
  char prefix[1024];
  bert_zip_entry *pkl = find_data_pkl(z, prefix, sizeof prefix);
  if (!pkl)
    return bert_error_set(err, BERT_EFORMAT, "%s: zip archive without <archive>/data.pkl: not a PyTorch checkpoint",
                          tf->path);
  int rc = check_byteorder(tf, z, prefix, err);
  const unsigned char *p = NULL;
  size_t n = 0;
  if (!rc) rc = bert_zip_data(z, pkl, &p, &n, err);
  if (rc) return rc;
  loader l = {tf, z, prefix, err};
  return load_pickle(&l, pkl->name, p, n);
}

int bert_torch_open(bert_torch_file *tf, const char *path, bert_error *err) {
  memset(tf, 0, sizeof *tf);
  if (snprintf(tf->path, sizeof tf->path, "%s", path) >= (int)sizeof tf->path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  int rc = bert_map_file(path, &tf->buf, &tf->size, err);
  if (!rc) rc = check_magic(tf, err);
  bert_zip *z = NULL;
  if (!rc && !(z = malloc(sizeof *z))) rc = bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  if (!rc && !(rc = bert_zip_open(z, tf->buf, tf->size, tf->path, err))) {
    rc = read_archive(tf, z, err);
    bert_zip_close(z);
  }
  free(z);
  if (rc) bert_torch_close(tf);
  return rc;
}

void bert_torch_close(bert_torch_file *tf) {
  for (int i = 0; i < tf->count; i++) free(tf->tensors[i].name);
  free(tf->tensors);
  for (int i = 0; i < tf->copy_count; i++) free(tf->copies[i]);
  free(tf->copies);
  bert_unmap_file(tf->buf, tf->size);
  memset(tf, 0, sizeof *tf);
}

const bert_st_tensor *bert_torch_find(const bert_torch_file *tf, const char *name) {
  for (int i = 0; i < tf->count; i++)
    if (!strcmp(tf->tensors[i].name, name)) return &tf->tensors[i];
  return NULL;
}
