/* serve/bench_input: what `bert bench-serve` sends to a BERT question-answering model and how it
 * checks the answers. Batches of random valid inputs (ids inside the vocabulary, an attention
 * mask of `real` leading ones per row, token types 0 then 1) are encoded once as v2 requests,
 * binary tensors with binary outputs requested (what tritonclient sends by default) or all-JSON,
 * and for gRPC also as a packed ModelInferRequest with raw_input_contents (tritonclient.grpc).
 * With a local model, the expected logits of every row are computed alone, unpadded (batch 1,
 * the row's real tokens only), and a response is checked against them on real positions
 * (|served - local| <= atol + rtol |local|) and for -10000 on padded ones. */
#ifndef BERT_SERVE_BENCH_INPUT_H
#define BERT_SERVE_BENCH_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/model.h"
#include "serve/model_config.h"
#include "squad/features.h"

/* The served model as the client sees it (from GET .../config). */
typedef struct bert_serve_bench_model {
  bert_serve_model_config cfg;
  int in_role[3], out_role[2];   /* ids, mask, types / start, end (config indices, -1 absent) */
  int seq_len;                   /* fixed sequence dim, or -1 when variable */
} bert_serve_bench_model;

int bert_serve_bench_model_init(bert_serve_bench_model *m, const char *config_json, size_t len, bert_error *err);
void bert_serve_bench_model_free(bert_serve_bench_model *m);

typedef struct bert_serve_bench_batch {
  int rows, len;
  int32_t *ids, *mask, *types;   /* [rows, len] */
  int *real;                     /* real tokens per row (a leading run of mask 1) */
  char *body;                    /* the encoded request */
  size_t body_len, header_len;   /* header_len 0: all JSON (no Inference-Header-Content-Length) */
  uint8_t *grpc;                 /* the packed ModelInferRequest (no id), when shape.grpc */
  size_t grpc_len;
  float *start, *end;            /* expected logits [rows, len] after bert_serve_bench_expect */
} bert_serve_bench_batch;

typedef struct bert_serve_bench_shape {
  int rows;                      /* rows per request */
  int len;                       /* sequence length when the model's is variable */
  int min_real, max_real;        /* real tokens per row, uniform in [min_real, max_real] */
  int vocab_size;
  uint64_t seed;
  int json;                      /* JSON tensors instead of binary */
  int grpc;                      /* also pack each request for gRPC */
  const bert_squad_features *squad; /* rows are these SQuAD features in turn (NULL: random ids) */
} bert_serve_bench_shape;

/* n batches of random inputs, encoded for `m`. */
int bert_serve_bench_make_batches(bert_serve_bench_batch **out, int n, const bert_serve_bench_model *m,
                                  const bert_serve_bench_shape *shape, bert_error *err);
void bert_serve_bench_free_batches(bert_serve_bench_batch *b, int n);
/* Expected logits of every row from a local model (QA head). */
int bert_serve_bench_expect(bert_serve_bench_batch *b, int n, bert_model *model, bert_error *err);

/* Checks one response body: 0 when it matches, BERT_EMISMATCH with the first difference in
 * msg, another negative code when it is not a valid response. Without expectations only the
 * response's structure (names, shapes, sizes) is checked. */
int bert_serve_bench_verify(const bert_serve_bench_batch *b, const bert_serve_bench_model *m, const char *body, size_t len,
                            int64_t header_len, double rtol, double atol, bert_error *err);

/* One output of an answer whose tensors came as raw bytes (gRPC's raw_output_contents). */
typedef struct bert_serve_bench_output {
  const char *name, *datatype;
  const int64_t *shape;
  int ndim;
  const void *data;              /* little-endian elements */
  size_t size;
} bert_serve_bench_output;

/* The same check as bert_serve_bench_verify on an answer's n outputs. */
int bert_serve_bench_verify_raw(const bert_serve_bench_batch *b, const bert_serve_bench_model *m,
                                const bert_serve_bench_output *outs, int n, double rtol, double atol, bert_error *err);

#endif
