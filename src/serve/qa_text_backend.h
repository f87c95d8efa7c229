/* serve/qa_text_backend: the "bertc-qa-text" backend — extractive question answering on raw
 * text, beyond what Triton serves. Inputs `question` and `context` (BYTES, dims [1]); outputs
 * `answer` (BYTES [1]), `score` (FP32 [1], start + end logit), `start` and `end` (INT32 [1],
 * Unicode code-point offsets into the context, end exclusive, as `bert qa`), and optionally the
 * n-best list the answer was chosen from, best first: `nbest_answer` (BYTES [N]), `nbest_score`,
 * `nbest_probability` (FP32 [N], softmax over the 20 candidates kept) and `nbest_start` /
 * `nbest_end` (INT32 [N]); N is their dims (1 to 20), rows past a shorter list are "", -inf, 0,
 * -1, -1, and the list is gathered only when one of them is asked for. Each output is optional
 * in config.pbtxt. Tokenisation,
 * 384-token windows sharing 128 and post-processing are those of `bert squad` (src/squad/qa.c).
 * The version folder is a HuggingFace QA folder (config.json alone: random weights from
 * random_seed, as the "bertc" backend); its vocab.txt and tokenizer_config.json give the
 * vocabulary and casing, else the bundled data/vocab.txt. config.pbtxt parameters:
 * max_seq_length (384), doc_stride (128), max_answer_length (30), v2 ("true": the empty answer
 * when the no-answer score wins), precision (fp32 | bf16 | int8), random_seed (0). */
#ifndef BERT_SERVE_QA_TEXT_BACKEND_H
#define BERT_SERVE_QA_TEXT_BACKEND_H

#include "serve/backend.h"

extern const bert_serve_backend bert_serve_qa_text_backend;

#endif
