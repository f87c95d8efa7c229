/* SQuAD predictions JSON, the evaluator's input (squad/evaluate): the input is a predictions file
 * ({"question id": "answer text", ...}) scored against tests/data/squad/handmade-v2.0.json as
 * evaluate-v2.0.py and as evaluate-v1.1.py would, and against unicode-v1.1.json; the input bytes
 * also go through normalize_answer and the token F1 directly. Scores must be percentages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "squad/evaluate.h"

static char *handmade, *unicode;
static size_t handmade_len, unicode_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  handmade = fuzz_repo_file("tests/data/squad/handmade-v2.0.json", &handmade_len);
  unicode = fuzz_repo_file("tests/data/squad/unicode-v1.1.json", &unicode_len);
  return 0;
}

static void evaluate(const char *gold, size_t gold_len, const char *pred, size_t pred_len, int v2) {
  bert_squad_scores s;
  bert_error err;
  if (fuzz_check(bert_squad_evaluate_text(gold, gold_len, "gold.json", pred, pred_len, "predictions.json", v2, &s,
                                           NULL, &err), &err))
    return;
  if (!(s.exact >= 0 && s.exact <= 100 && s.f1 >= 0 && s.f1 <= 100 + 1e-9))
    fprintf(stderr, "scores %g %g\n", s.exact, s.f1), abort();
  bert_strbuf out = {0};
  bert_squad_scores_json(&s, &out);
  bert_strbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *pred = malloc(size ? size : 1); /* exactly the input: no NUL after it */
  if (size) memcpy(pred, data, size);
  evaluate(handmade, handmade_len, pred, size, 1);
  evaluate(handmade, handmade_len, pred, size, 0);
  evaluate(unicode, unicode_len, pred, size, 0);
  free(bert_squad_normalize(pred, size));
  char *text = fuzz_string(data, size > 512 ? 512 : size);
  double f1 = bert_squad_f1(text, "the Amazon River", 1);
  if (!(f1 >= 0 && f1 <= 1)) abort();
  bert_squad_exact(text, text);
  free(text);
  free(pred);
  return 0;
}
