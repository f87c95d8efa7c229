/* squad/evaluate: the official SQuAD metrics (evaluate-v1.1.py and evaluate-v2.0.py) with their
 * Python 3 semantics, so the numbers match what the scripts print.
 *
 * normalize_answer: Python str.lower() (utf8proc_tolower per code point, plus the two cases of
 * Python's full mapping that are not one-to-one: U+0130 'İ' -> "i̇" (i + U+0307) and the
 * final-sigma rule for U+03A3), removal of every ASCII punctuation character (string.punctuation),
 * the articles a/an/the replaced by ' ' as whole words (re `\b(a|an|the)\b`: a word character is
 * a Unicode letter or number — general categories L* and N* — or '_'), then ' '.join(s.split())
 * with Python's Unicode whitespace. Invalid UTF-8 bytes pass through unchanged (Python's json
 * would have refused the file). Unicode tables are utf8proc's, which may be a version apart from
 * a given Python's.
 *
 * v1.1: questions without a prediction score 0 (a warning line each, as the script's
 * "Unanswered question ... will receive score 0."); prediction ids not in the data are ignored.
 * v2.0: gold answers whose normalised text is empty are dropped and an impossible question's gold
 * answers are ['']; F1 is 1 when both token lists are empty, 0 when only one is. The official v2
 * script fails (KeyError) when a question has no prediction, so that is an error here. */
#ifndef BERT_SQUAD_EVALUATE_H
#define BERT_SQUAD_EVALUATE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "base/strbuf.h"

/* normalize_answer(text[0, len)) as a malloc'ed NUL-terminated string (NULL when out of memory). */
char *bert_squad_normalize(const char *text, size_t len);

/* exact_match_score: 1 when the normalised texts are equal. */
int bert_squad_exact(const char *prediction, const char *ground_truth);
/* Token F1 of the normalised texts (v1.1's f1_score; v2: compute_f1 with its empty-answer rule).
 * Returns a negative value only when out of memory. */
double bert_squad_f1(const char *prediction, const char *ground_truth, int v2);

typedef struct bert_squad_scores {
  int v2;
  /* v1.1: exact_match and f1 in percent over every question of the data (total). v2.0: the
   * script's exact, f1, total and, when there are such questions, HasAns_* and NoAns_*. */
  double exact, f1;
  long total;
  double has_ans_exact, has_ans_f1, no_ans_exact, no_ans_f1;
  long has_ans_total, no_ans_total;
  long unanswered; /* data questions with no prediction (v1.1: scored 0) */
  long unknown;    /* prediction ids not in the data (ignored) */
} bert_squad_scores;

/* Evaluates the predictions ({"question id": "answer text", ...}) against a SQuAD data file
 * (v1.1 or v2.0 layout). Warnings (unanswered questions, version mismatch) go to `warn` when it
 * is not NULL. Malformed files give BERT_EFORMAT naming the file and the field. */
int bert_squad_evaluate_files(const char *data_path, const char *pred_path, int v2, bert_squad_scores *out,
                              FILE *warn, bert_error *err);
/* The same over JSON texts already in memory; the names are used in messages. */
int bert_squad_evaluate_text(const char *data_json, size_t data_len, const char *data_name, const char *pred_json,
                             size_t pred_len, const char *pred_name, int v2, bert_squad_scores *out, FILE *warn,
                             bert_error *err);

/* The scores as the scripts print them: v1.1 `{"exact_match": …, "f1": …}` on one line, v2.0
 * json.dumps(indent=2) of its keys; numbers as Python's repr. Appends to `out`. */
void bert_squad_scores_json(const bert_squad_scores *s, bert_strbuf *out);

/* A double as Python's repr() prints it (shortest round-trip digits, "1.0", "1e+16", "nan"). */
void bert_squad_format_double(double v, char *buf, size_t cap);

#endif
