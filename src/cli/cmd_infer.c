/* bert infer: runs a HuggingFace model folder on JSONL requests and writes one JSON object per
 * input line, in input order. Lines are read in chunks; within a chunk, lines of equal length
 * (and equal masked-position count) are batched together, so nothing is padded. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/threads.h"
#include "cli/commands.h"
#include "model/checkpoint.h"

#define INFER_CHUNK_LINES 256

typedef struct infer_options {
  const char *model, *input, *output;
  bert_task task;
  bert_precision precision;
  int batch_size, threads;
} infer_options;

typedef struct infer_line {
  long lineno;
  int len, masked;
  int32_t *ids, *types, *mask, *positions; /* types/mask may be NULL; positions [masked] */
  char *result;
} infer_line;

typedef struct infer_state {
  infer_options opt;
  bert_model model;
  bert_workspace ws;
  int ws_len, ws_masked; /* current workspace capacity (0 = none) */
  /* batch assembly buffers, sized batch_size x ws_len */
  int32_t *ids, *types, *mask, *positions;
  bert_strbuf out;
} infer_state;

static const char *usage_text =
    "usage: bert infer --model DIR --input IN.jsonl --output OUT.jsonl [options]\n"
    "\n"
    "Runs a HuggingFace BERT model folder (config.json + model.safetensors or pytorch_model.bin) on\n"
    "JSON lines {\"input_ids\": [...], \"token_type_ids\": [...], \"attention_mask\": [...],\n"
    "\"masked_lm_positions\": [...]} (all but input_ids optional) and writes one JSON object per line.\n"
    "\n"
    "options:\n"
    "  --model DIR           model folder (required)\n"
    "  --head NAME           base | pretraining | qa | token-classification (default: base)\n"
    "  --precision P         fp32 | bf16 | int8 (default: fp32; int8 quantizes the encoder's\n"
    "                        linear layers: s8 weights per output channel, dynamic u8 activations)\n"
    "  --input FILE          JSONL requests, '-' for stdin (required)\n"
    "  --output FILE         JSONL results, written atomically, '-' for stdout (required)\n"
    "  --batch-size N        lines of equal length run together (default: 8)\n"
    "  --threads N           OpenMP threads (default: all cores)\n"
    "  -h, --help            show this help and exit\n";

static int parse_head(const char *s, bert_task *task) {
  static const struct { const char *name; bert_task task; } heads[] = {
      {"base", BERT_TASK_BASE}, {"pretraining", BERT_TASK_PRETRAINING}, {"qa", BERT_TASK_QA},
      {"token-classification", BERT_TASK_TOKEN_CLASSIFICATION}};
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
    if (!strcmp(s, heads[i].name)) return *task = heads[i].task, 0;
  return -1;
}

static int parse_int_option(const char *name, const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v <= 0 || v > 1 << 20) {
    fprintf(stderr, "bert infer: %s expects a positive integer, got '%s'\n", name, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_options(int argc, char **argv, infer_options *o) {
  static const struct option longopts[] = {
      {"model", required_argument, 0, 'm'},      {"head", required_argument, 0, 'H'},
      {"precision", required_argument, 0, 'p'},  {"input", required_argument, 0, 'i'},
      {"output", required_argument, 0, 'o'},     {"batch-size", required_argument, 0, 'b'},
      {"threads", required_argument, 0, 't'},    {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  memset(o, 0, sizeof *o);
  o->batch_size = 8;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'm': o->model = optarg; break;
      case 'i': o->input = optarg; break;
      case 'o': o->output = optarg; break;
      case 'H':
        if (parse_head(optarg, &o->task)) {
          fprintf(stderr, "bert infer: --head expects base, pretraining, qa or token-classification, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'p':
        if (bert_precision_parse(optarg, &o->precision)) {
          fprintf(stderr, "bert infer: --precision expects fp32, bf16 or int8, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'b': if (parse_int_option("--batch-size", optarg, &o->batch_size)) return 2; break;
      case 't': if (parse_int_option("--threads", optarg, &o->threads)) return 2; break;
      case 'h': fputs(usage_text, stdout); return 1;
      default:
        fprintf(stderr, "bert infer: unknown or incomplete option '%s'\n%s", argv[optind - 1], usage_text);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "bert infer: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (!o->model || !o->input || !o->output) {
    fprintf(stderr, "bert infer: --model, --input and --output are required\n%s", usage_text);
    return 2;
  }
  return 0;
}

/* ---- reading requests ---- */

/* Reads an integer array field; NULL *out when absent. */
static int int_array(const cJSON *obj, const char *key, int32_t **out, int *count, const char *where,
                     bert_error *err) {
  *out = NULL;
  *count = 0;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return BERT_OK;
  if (!cJSON_IsArray(v)) return bert_error_set(err, BERT_EFORMAT, "%s: %s must be an array of integers", where, key);
  int n = cJSON_GetArraySize(v), i = 0;
  *out = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!*out) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", where);
  const cJSON *x;
  cJSON_ArrayForEach(x, v) {
    double d = x->valuedouble;
    if (!cJSON_IsNumber(x) || d != (double)(int32_t)d)
      return bert_error_set(err, BERT_EFORMAT, "%s: %s[%d] is not an integer", where, key, i);
    (*out)[i++] = (int32_t)d;
  }
  *count = n;
  return BERT_OK;
}

static int check_values(const int32_t *v, int n, int lo, int hi, const char *key, const char *what,
                        const char *where, bert_error *err) {
  for (int i = 0; v && i < n; i++)
    if (v[i] < lo || v[i] >= hi)
      return bert_error_set(err, BERT_ERANGE, "%s: %s[%d] = %d is outside %s [%d, %d)", where, key, i, v[i], what,
                            lo, hi);
  return BERT_OK;
}

static int validate_line(const bert_config *c, infer_line *l, int ntypes, int nmask, const char *where,
                         bert_error *err) {
  if (l->len == 0) return bert_error_set(err, BERT_EFORMAT, "%s: input_ids is empty", where);
  if (l->len > c->max_position_embeddings)
    return bert_error_set(err, BERT_ERANGE, "%s: %d tokens exceed the model's %d positions", where, l->len,
                          c->max_position_embeddings);
  if (l->types && ntypes != l->len)
    return bert_error_set(err, BERT_EFORMAT, "%s: token_type_ids has %d values for %d input_ids", where, ntypes, l->len);
  if (l->mask && nmask != l->len)
    return bert_error_set(err, BERT_EFORMAT, "%s: attention_mask has %d values for %d input_ids", where, nmask, l->len);
  int rc = check_values(l->ids, l->len, 0, c->vocab_size, "input_ids", "the vocabulary", where, err);
  if (!rc) rc = check_values(l->types, l->len, 0, c->type_vocab_size, "token_type_ids", "the token types", where, err);
  if (!rc) rc = check_values(l->mask, l->len, 0, 2, "attention_mask", "the mask values", where, err);
  if (!rc) rc = check_values(l->positions, l->masked, 0, l->len, "masked_lm_positions", "the sequence", where, err);
  return rc;
}

static int parse_line(infer_state *st, const char *text, const char *where, infer_line *l, bert_error *err) {
  cJSON *obj = cJSON_Parse(text);
  if (!obj || !cJSON_IsObject(obj)) {
    cJSON_Delete(obj);
    return bert_error_set(err, BERT_EFORMAT, "%s: not a JSON object", where);
  }
  int ntypes, nmask, rc;
  if ((rc = int_array(obj, "input_ids", &l->ids, &l->len, where, err)) ||
      (rc = int_array(obj, "token_type_ids", &l->types, &ntypes, where, err)) ||
      (rc = int_array(obj, "attention_mask", &l->mask, &nmask, where, err)))
    goto done;
  if (!l->ids) {
    rc = bert_error_set(err, BERT_EFORMAT, "%s: input_ids is missing", where);
    goto done;
  }
  if (st->opt.task == BERT_TASK_PRETRAINING) {
    if ((rc = int_array(obj, "masked_lm_positions", &l->positions, &l->masked, where, err))) goto done;
    if (l->positions && l->masked == 0) {
      rc = bert_error_set(err, BERT_EFORMAT, "%s: masked_lm_positions is empty", where);
      goto done;
    }
  }
  rc = validate_line(&st->model.config, l, ntypes, nmask, where, err);
  if (!rc && st->opt.task == BERT_TASK_PRETRAINING && !l->positions) { /* logits at every position */
    l->masked = l->len;
    if (!(l->positions = malloc(sizeof(int32_t) * (size_t)l->len))) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < l->len; i++) l->positions[i] = i;
  }
done:
  cJSON_Delete(obj);
  return rc;
}

static void line_free(infer_line *l) {
  free(l->ids), free(l->types), free(l->mask), free(l->positions), free(l->result);
  memset(l, 0, sizeof *l);
}

/* ---- running batches ---- */

static int ensure_workspace(infer_state *st, int len, int masked, bert_error *err) {
  if (st->ws_len >= len && st->ws_masked >= masked) return BERT_OK;
  if (st->ws_len) bert_workspace_free(&st->ws);
  len = len > st->ws_len ? len : st->ws_len;
  masked = masked > st->ws_masked ? masked : st->ws_masked;
  st->ws_len = st->ws_masked = 0;
  int rc = bert_workspace_create(&st->ws, &st->model, st->opt.task, st->opt.batch_size, len, masked, 1, 0, err);
  if (rc) return rc;
  size_t n = (size_t)st->opt.batch_size * (size_t)(len > masked ? len : masked);
  free(st->ids), free(st->types), free(st->mask), free(st->positions);
  st->ids = malloc(n * sizeof(int32_t)), st->types = malloc(n * sizeof(int32_t));
  st->mask = malloc(n * sizeof(int32_t)), st->positions = malloc(n * sizeof(int32_t));
  if (!st->ids || !st->types || !st->mask || !st->positions)
    return bert_error_set(err, BERT_ENOMEM, "infer: out of memory");
  st->ws_len = len, st->ws_masked = masked;
  return BERT_OK;
}

static void matrix_json(bert_strbuf *s, const char *key, const float *v, int rows, int cols) {
  bert_strbuf_printf(s, ", \"%s\": [", key);
  for (int r = 0; r < rows; r++) {
    bert_strbuf_puts(s, r ? ", [" : "[");
    for (int c = 0; c < cols; c++) {
      if (c) bert_strbuf_append(s, ", ", 2);
      bert_strbuf_float(s, v[(int64_t)r * cols + c]);
    }
    bert_strbuf_append(s, "]", 1);
  }
  bert_strbuf_append(s, "]", 1);
}

static void vector_json(bert_strbuf *s, const char *key, const float *v, int n) {
  bert_strbuf_printf(s, ", \"%s\": [", key);
  for (int c = 0; c < n; c++) {
    if (c) bert_strbuf_append(s, ", ", 2);
    bert_strbuf_float(s, v[c]);
  }
  bert_strbuf_append(s, "]", 1);
}

/* Formats row r of the last forward into l->result. */
static int format_row(infer_state *st, int r, infer_line *l) {
  const bert_workspace *ws = &st->ws;
  const bert_config *c = &st->model.config;
  int L = l->len, H = c->hidden_size;
  bert_strbuf *s = &st->out;
  bert_strbuf_clear(s);
  bert_strbuf_printf(s, "{\"line\": %ld", l->lineno);
  matrix_json(s, "last_hidden_state", ws->sequence_output + (int64_t)r * L * H, L, H);
  int pooled = ws->task == BERT_TASK_PRETRAINING || (ws->task == BERT_TASK_BASE && (st->model.layout.parts & BERT_PART_POOLER));
  if (pooled) vector_json(s, "pooler_output", ws->pooled + (int64_t)r * H, H);
  switch (ws->task) {
    case BERT_TASK_PRETRAINING:
      matrix_json(s, "prediction_logits", ws->mlm_logits + (int64_t)r * l->masked * c->vocab_size, l->masked, c->vocab_size);
      vector_json(s, "seq_relationship_logits", ws->nsp_logits + (int64_t)r * 2, 2);
      break;
    case BERT_TASK_QA:
      vector_json(s, "start_logits", ws->start_logits + (int64_t)r * L, L);
      vector_json(s, "end_logits", ws->end_logits + (int64_t)r * L, L);
      break;
    case BERT_TASK_TOKEN_CLASSIFICATION:
      matrix_json(s, "logits", ws->token_logits + (int64_t)r * L * c->num_labels, L, c->num_labels);
      break;
    default:
      break;
  }
  bert_strbuf_append(s, "}\n", 2);
  if (s->failed || !(l->result = malloc(s->len + 1))) return BERT_ENOMEM;
  memcpy(l->result, s->data, s->len + 1);
  return BERT_OK;
}

/* Copies the lines of one batch (equal length and masked count) into the batch arrays. */
static void assemble(infer_state *st, infer_line **lines, int n, bert_batch *b) {
  int L = lines[0]->len, M = lines[0]->masked;
  int any_types = 0, any_mask = 0;
  for (int i = 0; i < n; i++) {
    infer_line *l = lines[i];
    memcpy(st->ids + (size_t)i * L, l->ids, sizeof(int32_t) * (size_t)L);
    for (int j = 0; j < L; j++) {
      st->types[(size_t)i * L + j] = l->types ? l->types[j] : 0;
      st->mask[(size_t)i * L + j] = l->mask ? l->mask[j] : 1;
    }
    if (M) memcpy(st->positions + (size_t)i * M, l->positions, sizeof(int32_t) * (size_t)M);
    any_types |= l->types != NULL, any_mask |= l->mask != NULL;
  }
  memset(b, 0, sizeof *b);
  b->batch = n, b->len = L;
  b->input_ids = st->ids;
  b->token_type_ids = any_types ? st->types : NULL;
  b->attention_mask = any_mask ? st->mask : NULL;
  if (st->opt.task == BERT_TASK_PRETRAINING) b->masked = M, b->masked_positions = st->positions, b->slots = 1;
}

static int run_batch(infer_state *st, infer_line **lines, int n, bert_error *err) {
  int rc = ensure_workspace(st, lines[0]->len, lines[0]->masked, err);
  if (rc) return rc;
  bert_batch b;
  assemble(st, lines, n, &b);
  if ((rc = bert_model_forward(&st->model, &st->ws, &b, 0, bert_rng_make(0, BERT_RNG_DROPOUT, 0, 0), err)))
    return bert_error_prefix(err, "line %ld: ", lines[0]->lineno);
  for (int i = 0; i < n; i++)
    if (format_row(st, i, lines[i])) return bert_error_set(err, BERT_ENOMEM, "infer: out of memory formatting output");
  return BERT_OK;
}

static int by_shape(const void *a, const void *b) {
  const infer_line *x = *(infer_line *const *)a, *y = *(infer_line *const *)b;
  if (x->len != y->len) return x->len - y->len;
  if (x->masked != y->masked) return x->masked - y->masked;
  return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

static int run_chunk(infer_state *st, infer_line *lines, int n, bert_error *err) {
  infer_line *order[INFER_CHUNK_LINES];
  for (int i = 0; i < n; i++) order[i] = &lines[i];
  qsort(order, (size_t)n, sizeof order[0], by_shape);
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n && j - i < st->opt.batch_size && order[j]->len == order[i]->len && order[j]->masked == order[i]->masked)
      j++;
    int rc = run_batch(st, order + i, j - i, err);
    if (rc) return rc;
    i = j;
  }
  return BERT_OK;
}

static int write_chunk(FILE *out, infer_line *lines, int n, const char *path, bert_error *err) {
  for (int i = 0; i < n; i++)
    if (fputs(lines[i].result, out) == EOF)
      return bert_error_set(err, BERT_EIO, "%s: write failed: %s", path, strerror(errno));
  return BERT_OK;
}

static int blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
  return 1;
}

/* Reads, runs and writes chunk by chunk; blank lines are skipped (their numbers still count). */
static int process(infer_state *st, FILE *in, FILE *out, bert_error *err) {
  infer_line lines[INFER_CHUNK_LINES];
  memset(lines, 0, sizeof lines);
  char *text = NULL, where[4200];
  size_t cap = 0;
  long lineno = 0;
  int n = 0, rc = BERT_OK, eof = 0;
  while (!rc && !eof) {
    ssize_t got = getline(&text, &cap, in);
    eof = got < 0;
    if (!eof) {
      lineno++;
      if (blank(text)) continue;
      snprintf(where, sizeof where, "%s:%ld", st->opt.input, lineno);
      lines[n].lineno = lineno;
      rc = parse_line(st, text, where, &lines[n], err);
      n++;
    }
    if (!rc && n && (n == INFER_CHUNK_LINES || eof)) {
      if (!(rc = run_chunk(st, lines, n, err))) rc = write_chunk(out, lines, n, st->opt.output, err);
      for (int i = 0; i < n; i++) line_free(&lines[i]);
      n = 0;
    }
  }
  for (int i = 0; i < n; i++) line_free(&lines[i]);
  free(text);
  if (!rc && ferror(in)) rc = bert_error_set(err, BERT_EIO, "%s: read error", st->opt.input);
  return rc;
}

static int load_model(infer_state *st, bert_error *err) {
  static const int parts[] = {BERT_PART_POOLER, BERT_PARTS_PRETRAINING, BERT_PARTS_PRETRAINING, BERT_PART_QA,
                              BERT_PART_CLASSIFIER};
  bert_load_report report;
  memset(&report, 0, sizeof report);
  int optional = st->opt.task == BERT_TASK_BASE ? BERT_PART_POOLER : 0;
  int rc = bert_checkpoint_load(&st->model, st->opt.model, parts[st->opt.task], optional, 0, &report, err);
  if (rc) return rc;
  if (report.parts_initialised)
    bert_warn("%s has no trained weights for this head: they are freshly initialised, outputs are not meaningful",
              st->opt.model);
  bert_load_report_log(&report);
  bert_load_report_free(&report);
  return bert_model_prepare_inference(&st->model, st->opt.precision, (int64_t)st->opt.batch_size * 128, err);
}

static void state_free(infer_state *st) {
  if (st->ws_len) bert_workspace_free(&st->ws);
  free(st->ids), free(st->types), free(st->mask), free(st->positions);
  bert_strbuf_free(&st->out);
  bert_model_free(&st->model);
}

static int open_streams(const infer_options *o, FILE **in, bert_atomic_file *af, FILE **out, bert_error *err) {
  *in = strcmp(o->input, "-") ? fopen(o->input, "r") : stdin;
  if (!*in) return bert_error_set(err, BERT_EIO, "%s: cannot open the input", o->input);
  if (!strcmp(o->output, "-")) {
    *out = stdout;
    return BERT_OK;
  }
  int rc = bert_atomic_open(af, o->output, err);
  if (rc && *in != stdin) fclose(*in);
  *out = rc ? NULL : af->f;
  return rc;
}

int cmd_infer(int argc, char **argv) {
  infer_state st;
  memset(&st, 0, sizeof st);
  int usage = parse_options(argc, argv, &st.opt);
  if (usage) return usage == 1 ? 0 : 2;
  if (st.opt.threads) bert_threads_set(st.opt.threads);
  bert_error err = {0};
  FILE *in = NULL, *out = NULL;
  bert_atomic_file af;
  memset(&af, 0, sizeof af);
  int rc = load_model(&st, &err);
  if (!rc) rc = open_streams(&st.opt, &in, &af, &out, &err);
  if (!rc) {
    rc = process(&st, in, out, &err);
    if (in != stdin) fclose(in);
    if (out != stdout) {
      if (!rc) rc = bert_atomic_commit(&af, &err);
      else bert_atomic_abort(&af);
    } else if (fflush(stdout)) {
      rc = bert_error_set(&err, BERT_EIO, "stdout: write failed");
    }
  }
  state_free(&st);
  if (rc) {
    fprintf(stderr, "bert infer: %s\n", err.message);
    return 1;
  }
  return 0;
}
