/* serve/bert_backend: the "bertc" backend — a HuggingFace BERT folder with the question-answering
 * head, serving start and end logits for every token (REFERENCE 9.2's contract). Inputs are
 * token ids, attention mask and token types, found by their HF names (input_ids,
 * attention_mask, token_type_ids) or else by position (input_0, input_1, input_2 as the
 * reference's name map); outputs start_logits / end_logits, or output_0 / output_1 by position.
 * Dims are one sequence dimension, fixed ([384]) or variable ([-1]); INT32 or INT64 inputs,
 * FP32 or FP16 outputs. Positions whose attention mask is 0 get -10000.
 *
 * The rows of a dynamic batch are packed: only real tokens (mask 1) are computed, laid out in
 * rows of the model's length with the block-diagonal attention mask and their original position
 * ids, which gives each token the same attention as the padded computation. config.pbtxt
 * parameters: packing "false" pads instead (each batch padded to its longest request);
 * precision "bf16" runs bf16 matrix products, "int8" int8 encoder products; random_seed (default 0) seeds the weights when the
 * version folder has config.json but no weights, and a missing QA head otherwise. */
#ifndef BERT_SERVE_BERT_BACKEND_H
#define BERT_SERVE_BERT_BACKEND_H

#include <stdint.h>

#include "model/model.h"
#include "serve/backend.h"

extern const bert_serve_backend bert_serve_bert_backend;

#define BERT_SERVE_DEFAULT_SEED 0

/* Which config inputs are the token ids, attention mask and token types (in_role[0..2]) and
 * which outputs the start and end logits (out_role[0..1]); -1 when absent. Fails when the
 * tensors fit neither the HF names nor the positional convention. */
int bert_serve_bert_roles(const bert_serve_model_config *cfg, int in_role[3], int out_role[2], bert_error *err);

/* An instance's view of a shared model: the same read-only parameters, its own oneDNN context
 * (the GEMM cache holds per-call state and is not thread-safe). Free with
 * bert_serve_bert_view_free, which leaves the shared model alone. */
int bert_serve_bert_view(bert_model *view, const bert_model *shared, bert_error *err);
void bert_serve_bert_view_free(bert_model *view);

/* Loads `dir` for question answering: config.json + model.safetensors or pytorch_model.bin (a
 * missing QA head initialised from `seed`), or config.json alone, every parameter then drawn
 * from `seed` (the reference serves a random model). *random_init (may be NULL) says which. */
int bert_serve_bert_load(bert_model *m, const char *dir, uint64_t seed, int *random_init, bert_error *err);

#endif
