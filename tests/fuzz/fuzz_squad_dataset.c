/* SQuAD v1.1 / v2.0 dataset JSON (squad/dataset): parse any text (code-point answer offsets to
 * bytes included); an accepted dataset is written back as SQuAD JSON, which must parse again to
 * the same questions, and truncated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "squad/dataset.h"

/* Answers found in their context have a byte span inside it. */
static void check_answers(const bert_squad_dataset *ds) {
  for (int64_t i = 0; i < ds->count; i++) {
    const bert_squad_example *e = &ds->examples[i];
    const bert_squad_context *c = &ds->contexts[e->context];
    for (int a = 0; a < e->answer_count; a++) {
      const bert_squad_answer *ans = &e->answers[a];
      if (ans->in_context && (ans->byte_start > ans->byte_end || ans->byte_end > c->len))
        fprintf(stderr, "%s: answer %d outside its context\n", e->id, a), abort();
    }
  }
}

static void round_trip(const bert_squad_dataset *ds) {
  char *json = bert_squad_dataset_json(ds);
  if (!json) return;
  bert_squad_dataset again;
  bert_error err;
  if (bert_squad_dataset_parse(&again, json, strlen(json), "written.json", &err))
    fprintf(stderr, "written dataset refused: %s\n", err.message), abort();
  if (again.count != ds->count) abort();
  bert_squad_dataset_free(&again);
  free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exactly the input: no NUL after it */
  if (size) memcpy(text, data, size);
  bert_squad_dataset ds;
  bert_error err;
  if (!fuzz_check(bert_squad_dataset_parse(&ds, text, size, "squad.json", &err), &err)) {
    check_answers(&ds);
    round_trip(&ds);
    bert_squad_dataset_truncate(&ds, ds.count / 2);
    bert_squad_dataset_free(&ds);
  }
  free(text);
  return 0;
}
