/* tool_squad_features DATA.json VOCAB [MAX_SEQ_LENGTH DOC_STRIDE]: prints the SQuAD features of
 * a file as JSON lines, for the independent re-statement in test_squad_features.py: per feature
 * the example id, the unpadded input ids, token types, the training labels and each position's
 * byte span in the context (null outside the context). */
#include <stdio.h>
#include <stdlib.h>

#include "squad/features.h"
#include "text/vocab.h"

static void print_feature(const bert_squad_features *f, int64_t i, int32_t *ids, int32_t *types) {
  int len = bert_squad_feature_length(f, i);
  int32_t start, end;
  bert_squad_features_fill(f, &i, 1, len, ids, types, NULL, &start, &end);
  const bert_squad_feature *ft = &f->items[i];
  printf("{\"id\": \"%s\", \"start\": %d, \"end\": %d, \"input_ids\": [", f->ds->examples[ft->example].id,
         ft->start_position, ft->end_position);
  for (int p = 0; p < len; p++) printf("%s%d", p ? ", " : "", ids[p]);
  printf("], \"token_type_ids\": [");
  for (int p = 0; p < len; p++) printf("%s%d", p ? ", " : "", types[p]);
  printf("], \"spans\": [");
  for (int p = 0; p < len; p++) {
    uint32_t a, b;
    if (bert_squad_feature_span(f, i, p, &a, &b)) printf("%s[%u, %u]", p ? ", " : "", a, b);
    else printf("%snull", p ? ", " : "");
  }
  printf("]}\n");
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: tool_squad_features DATA.json VOCAB [MAX_SEQ_LENGTH DOC_STRIDE]\n");
    return 2;
  }
  bert_error err = {0};
  bert_squad_dataset ds;
  bert_vocab vocab;
  bert_tokenizer *tok = NULL;
  bert_squad_features f;
  bert_squad_feature_config fc;
  bert_squad_feature_config_default(&fc);
  if (argc == 5) fc.max_seq_length = atoi(argv[3]), fc.doc_stride = atoi(argv[4]);
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts);
  opts.never_split = bert_never_split_specials;
  if (bert_squad_dataset_load(&ds, argv[1], &err) || bert_vocab_load(&vocab, argv[2], &err) ||
      bert_tokenizer_create(&tok, &vocab, &opts, &err) || bert_squad_features_build(&f, &ds, tok, &fc, &err)) {
    fprintf(stderr, "tool_squad_features: %s\n", err.message);
    return 1;
  }
  int32_t *ids = malloc((size_t)fc.max_seq_length * sizeof *ids), *types = malloc((size_t)fc.max_seq_length * sizeof *types);
  for (int64_t i = 0; i < f.count; i++) print_feature(&f, i, ids, types);
  free(ids);
  free(types);
  bert_squad_features_free(&f);
  bert_tokenizer_free(tok);
  bert_vocab_free(&vocab);
  bert_squad_dataset_free(&ds);
  return 0;
}
