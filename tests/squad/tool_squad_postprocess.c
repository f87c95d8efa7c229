/* tool_squad_postprocess DATA.json LOGITS.jsonl PREDICTIONS NBEST V2 [MAX_SEQ_LENGTH DOC_STRIDE]:
 * post-processes given logits (one JSON line per feature, {"start": [...], "end": [...]} over
 * the feature's unpadded length, in tool_squad_features order) into predictions.json and
 * nbest_predictions.json, for the re-statement in test_squad_postprocess.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "squad/postprocess.h"
#include "text/vocab.h"

static int read_logits(const char *path, const bert_squad_features *f, float *start, float *end) {
  FILE *in = fopen(path, "r");
  if (!in) return fprintf(stderr, "cannot open %s\n", path), 1;
  char *line = NULL;
  size_t cap = 0;
  int64_t i = 0;
  bert_error err = {0};
  while (getline(&line, &cap, in) > 0 && i < f->count) {
    cJSON *o = NULL;
    if (bert_json_parse(line, strlen(line), path, &o, &err)) return fprintf(stderr, "%s\n", err.message), 1;
    const cJSON *s = cJSON_GetObjectItem(o, "start"), *e = cJSON_GetObjectItem(o, "end");
    int n = cJSON_GetArraySize(s);
    if (n != bert_squad_feature_length(f, i) || cJSON_GetArraySize(e) != n)
      return fprintf(stderr, "%s: feature %lld: expected %d logits\n", path, (long long)i, bert_squad_feature_length(f, i)), 1;
    for (int p = 0; p < n; p++) {
      start[i * f->seq_len + p] = (float)cJSON_GetArrayItem(s, p)->valuedouble;
      end[i * f->seq_len + p] = (float)cJSON_GetArrayItem(e, p)->valuedouble;
    }
    cJSON_Delete(o);
    i++;
  }
  free(line);
  fclose(in);
  return i == f->count ? 0 : (fprintf(stderr, "%s: %lld lines for %lld features\n", path, (long long)i, (long long)f->count), 1);
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 8) {
    fprintf(stderr, "usage: tool_squad_postprocess DATA.json LOGITS.jsonl PREDICTIONS NBEST V2 [MAX_SEQ DOC_STRIDE]\n");
    return 2;
  }
  bert_error err = {0};
  bert_squad_dataset ds;
  bert_vocab vocab;
  bert_tokenizer *tok = NULL;
  bert_squad_features f;
  bert_squad_feature_config fc;
  bert_squad_feature_config_default(&fc);
  if (argc == 8) fc.max_seq_length = atoi(argv[6]), fc.doc_stride = atoi(argv[7]);
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts);
  opts.never_split = bert_never_split_specials;
  if (bert_squad_dataset_load(&ds, argv[1], &err) || bert_vocab_load(&vocab, "data/vocab.txt", &err) ||
      bert_tokenizer_create(&tok, &vocab, &opts, &err) || bert_squad_features_build(&f, &ds, tok, &fc, &err)) {
    fprintf(stderr, "tool_squad_postprocess: %s\n", err.message);
    return 1;
  }
  size_t cells = (size_t)f.count * (size_t)f.seq_len;
  float *start = calloc(cells, sizeof *start), *end = calloc(cells, sizeof *end);
  int rc = read_logits(argv[2], &f, start, end);
  bert_squad_post_config pc;
  bert_squad_post_config_default(&pc);
  pc.v2 = atoi(argv[5]);
  if (!rc && bert_squad_write_predictions(&f, start, end, f.seq_len, &pc, argv[3], argv[4], &err))
    rc = (fprintf(stderr, "tool_squad_postprocess: %s\n", err.message), 1);
  free(start);
  free(end);
  bert_squad_features_free(&f);
  bert_tokenizer_free(tok);
  bert_vocab_free(&vocab);
  bert_squad_dataset_free(&ds);
  return rc;
}
