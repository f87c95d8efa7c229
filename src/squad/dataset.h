/* squad/dataset: a SQuAD v1.1 or v2.0 JSON file read into memory (cJSON): one example per
 * question, each pointing at its paragraph's context. Answer positions in the file are code-point
 * offsets (Python string indices); they are converted here to byte offsets into the UTF-8 context,
 * which is what the tokenizer's spans use. Answers that fall outside their context or whose text
 * differs from the context at that place are counted and reported (the first few by location);
 * the former are unusable for training, the latter are used as the offsets say (as HuggingFace). */
#ifndef BERT_SQUAD_DATASET_H
#define BERT_SQUAD_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct bert_squad_answer {
  const char *text;
  int64_t char_start;          /* answer_start as in the file (code points) */
  size_t byte_start, byte_end; /* span in the context, end exclusive; valid when in_context */
  int in_context;              /* 0 when answer_start + length runs outside the context */
} bert_squad_answer;

typedef struct bert_squad_example {
  const char *id;
  const char *question;
  size_t question_len;
  int32_t context;        /* index into bert_squad_dataset.contexts */
  int impossible;         /* v2.0 is_impossible */
  int answer_count;
  bert_squad_answer *answers;
} bert_squad_example;

typedef struct bert_squad_context {
  const char *text;
  size_t len;
} bert_squad_context;

typedef struct bert_squad_dataset {
  bert_squad_example *examples;
  int64_t count;
  bert_squad_context *contexts;
  int64_t context_count;
  int64_t answers_outside, answers_mismatched, empty_contexts, impossible_count;
  struct bert_squad_strings *strings; /* private: owns every string */
} bert_squad_dataset;

/* Reads `path`. Malformed JSON or missing/mistyped fields: BERT_EFORMAT naming the file and the
 * place (data[3].paragraphs[1].qas[0].answers[0]: missing field "answer_start"). */
int bert_squad_dataset_load(bert_squad_dataset *ds, const char *path, bert_error *err);
/* The same over a JSON text in memory; `name` is used in messages. */
int bert_squad_dataset_parse(bert_squad_dataset *ds, const char *json, size_t len, const char *name,
                             bert_error *err);
void bert_squad_dataset_free(bert_squad_dataset *ds);

/* Keeps the first `n` questions (HF run_qa's max_*_samples) and the contexts they use. */
void bert_squad_dataset_truncate(bert_squad_dataset *ds, int64_t n);

/* The dataset as SQuAD JSON (one article per context; answers, answer_start and is_impossible as
 * read), malloc'ed, NULL when out of memory: what the official scores are computed against. */
char *bert_squad_dataset_json(const bert_squad_dataset *ds);

/* Logs (bert_warn) the counts of answers outside their context, mismatched answer texts and
 * empty contexts, when there are any. */
void bert_squad_dataset_report(const bert_squad_dataset *ds, const char *name);

#endif
