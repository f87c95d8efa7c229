/* bert qa: extractive question answering with a fine-tuned QA model folder (the output of
 * `bert squad`, or any HuggingFace BertForQuestionAnswering folder). One question from the command
 * line, or JSON lines {"question", "context"} on stdin; prints {"answer", "score", "start", "end"}
 * per question, start/end in Unicode code points of the context (end exclusive), and with --n-best
 * the first candidates of the n-best list the answer was chosen from. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/threads.h"
#include "cli/commands.h"
#include "io/json.h"
#include "squad/qa.h"

static const char *usage_text =
    "usage: bert qa --model DIR [--question TEXT --context TEXT] [options]\n"
    "\n"
    "Answers a question about a context with a fine-tuned QA model folder (config.json +\n"
    "model.safetensors or pytorch_model.bin, vocab.txt). Without --question/--context, reads JSON\n"
    "lines {\"question\": ..., \"context\": ...} from stdin. Prints one JSON object per question:\n"
    "{\"answer\": text, \"score\": start + end logit, \"start\": s, \"end\": e}, where s and e are\n"
    "Unicode code-point offsets into the context (end exclusive), the units of SQuAD's answer_start.\n"
    "With --n-best N it also holds \"nbest\": the first N of the 20 candidates the answer was chosen\n"
    "from, best first: [{\"answer\", \"score\", \"start\", \"end\", \"probability\"}, ...].\n"
    "\n"
    "options:\n"
    "  --model DIR           model folder (required)\n"
    "  --question TEXT       the question\n"
    "  --context TEXT        the text holding the answer\n"
    "  --v2                  SQuAD 2.0 model: answer \"\" when the no-answer score wins\n"
    "  --max-seq-length N    tokens per window (default: 384)\n"
    "  --doc-stride N        context tokens shared by consecutive windows (default: 128)\n"
    "  --max-answer-length N longest answer in tokens (default: 30)\n"
    "  --n-best N            also print the best N candidates, 1 to 20 (default: none)\n"
    "  --vocab FILE          vocabulary when the folder has no vocab.txt (default: data/vocab.txt)\n"
    "  --precision P         fp32 | bf16 | int8 (default: fp32)\n"
    "  --threads N           OpenMP threads (default: all cores)\n"
    "  -h, --help            show this help and exit\n";

typedef struct qa_options {
  const char *model, *question, *context, *vocab;
  bert_squad_feature_config features;
  int v2, max_answer_length, threads, nbest;
  bert_precision precision;
} qa_options;

static int positive(const char *name, const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s && !*end && v >= 0 && v <= 1 << 20) {
    *out = (int)v;
    return 0;
  }
  fprintf(stderr, "bert qa: %s: expected a non-negative integer, got '%s'\n", name, s);
  return 2;
}

static int parse_options(int argc, char **argv, qa_options *o) {
  static const struct option longopts[] = {
      {"model", required_argument, 0, 'm'},          {"question", required_argument, 0, 'q'},
      {"context", required_argument, 0, 'c'},        {"v2", no_argument, 0, '2'},
      {"max-seq-length", required_argument, 0, 'L'}, {"doc-stride", required_argument, 0, 'S'},
      {"max-answer-length", required_argument, 0, 'A'}, {"vocab", required_argument, 0, 'v'},
      {"n-best", required_argument, 0, 'n'},
      {"precision", required_argument, 0, 'p'},      {"threads", required_argument, 0, 't'},
      {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
  memset(o, 0, sizeof *o);
  o->vocab = "data/vocab.txt";
  bert_squad_feature_config_default(&o->features);
  o->max_answer_length = 30;
  int c, rc = 0;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'm': o->model = optarg; break;
    case 'q': o->question = optarg; break;
    case 'c': o->context = optarg; break;
    case '2': o->v2 = 1; break;
    case 'L': rc = positive("--max-seq-length", optarg, &o->features.max_seq_length); break;
    case 'S': rc = positive("--doc-stride", optarg, &o->features.doc_stride); break;
    case 'A': rc = positive("--max-answer-length", optarg, &o->max_answer_length); break;
    case 'n': rc = positive("--n-best", optarg, &o->nbest); break;
    case 'v': o->vocab = optarg; break;
    case 't': rc = positive("--threads", optarg, &o->threads); break;
    case 'p':
      if (bert_precision_parse(optarg, &o->precision))
        fprintf(stderr, "bert qa: --precision: expected fp32, bf16 or int8, got '%s'\n", optarg), rc = 2;
      break;
    case 'h': fputs(usage_text, stdout); return 1;
    default: fputs(usage_text, stderr); return 2;
    }
  }
  if (rc) return rc;
  if (optind < argc) return fprintf(stderr, "bert qa: unexpected argument '%s'\n", argv[optind]), 2;
  if (!o->model) return fprintf(stderr, "%sbert qa: error: --model is required\n", usage_text), 2;
  if (!o->question != !o->context)
    return fprintf(stderr, "bert qa: error: --question and --context go together (or neither: JSON lines on stdin)\n"), 2;
  if (o->max_answer_length < 1) return fprintf(stderr, "bert qa: --max-answer-length must be at least 1\n"), 2;
  if (o->nbest > 20) return fprintf(stderr, "bert qa: --n-best is at most 20 (the candidates kept)\n"), 2;
  return 0;
}

/* The shortest decimal that reads back as the same float (3.2230034, not 3.2230033874511719). */
static void add_float(cJSON *o, const char *key, float v) {
  char buf[32] = "null";
  for (int digits = 6; isfinite(v) && digits <= 9; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
    if (strtof(buf, NULL) == v) break;
  }
  cJSON_AddRawToObject(o, key, buf);
}

static void add_span(cJSON *o, const char *text, float score, int64_t start, int64_t end) {
  cJSON_AddStringToObject(o, "answer", text);
  add_float(o, "score", score);
  cJSON_AddNumberToObject(o, "start", (double)start);
  cJSON_AddNumberToObject(o, "end", (double)end);
}

static void print_answer(const bert_qa_answer *a, int nbest) {
  cJSON *o = cJSON_CreateObject();
  add_span(o, a->text, a->score, a->start, a->end);
  cJSON *list = nbest ? cJSON_AddArrayToObject(o, "nbest") : NULL;
  for (int k = 0; list && k < a->nbest_count; k++) {
    const bert_qa_candidate *c = &a->nbest[k];
    cJSON *item = cJSON_CreateObject();
    add_span(item, c->text, c->score, c->start, c->end);
    add_float(item, "probability", c->probability);
    cJSON_AddItemToArray(list, item);
  }
  char *text = cJSON_PrintUnformatted(o);
  if (text) printf("%s\n", text);
  fflush(stdout);
  free(text);
  cJSON_Delete(o);
}

static void print_error(const char *message) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", message);
  char *text = cJSON_PrintUnformatted(o);
  if (text) printf("%s\n", text);
  free(text);
  cJSON_Delete(o);
}

static int answer(bert_qa_engine *e, const char *question, const char *context, bert_error *err) {
  bert_qa_answer a;
  int rc = bert_qa_engine_answer(e, question, context, &a, err);
  if (!rc) print_answer(&a, e->nbest);
  bert_qa_answer_free(&a);
  return rc;
}

/* One JSON line: a bad line gets an {"error"} line and the others go on; the exit status says. */
static int answer_line(bert_qa_engine *e, const char *line, long lineno, bert_error *err) {
  char where[64];
  snprintf(where, sizeof where, "stdin line %ld", lineno);
  cJSON *obj = NULL;
  int rc = bert_json_parse(line, strlen(line), where, &obj, err);
  const cJSON *q = NULL, *c = NULL;
  if (!rc && !cJSON_IsObject(obj)) rc = bert_error_set(err, BERT_EFORMAT, "%s: expected a JSON object", where);
  if (!rc && !(q = bert_json_field(obj, "question", BERT_JSON_STRING, where, "object", err))) rc = BERT_EFORMAT;
  if (!rc && !(c = bert_json_field(obj, "context", BERT_JSON_STRING, where, "object", err))) rc = BERT_EFORMAT;
  if (!rc) rc = answer(e, q->valuestring, c->valuestring, err);
  if (rc) print_error(err->message), fprintf(stderr, "bert qa: %s\n", err->message);
  cJSON_Delete(obj);
  return rc;
}

static int answer_stdin(bert_qa_engine *e, bert_error *err) {
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  int failures = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    size_t k = strspn(line, " \t\r\n");
    if (line[k] == '\0') continue;
    failures += answer_line(e, line, lineno, err) != 0;
  }
  free(line);
  return failures ? 1 : 0;
}

int cmd_qa(int argc, char **argv) {
  qa_options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : rc;
  bert_threads_set(o.threads);
  bert_error err = {0};
  bert_qa_engine e;
  if (bert_qa_engine_open(&e, o.model, o.vocab, &o.features, 4, o.precision, &err)) {
    fprintf(stderr, "bert qa: %s\n", err.message);
    return 1;
  }
  e.post.v2 = o.v2;
  e.post.max_answer_length = o.max_answer_length;
  e.nbest = o.nbest;
  if (o.question) {
    rc = answer(&e, o.question, o.context, &err);
    if (rc) fprintf(stderr, "bert qa: %s\n", err.message);
    rc = rc ? 1 : 0;
  } else {
    rc = answer_stdin(&e, &err);
  }
  bert_qa_engine_close(&e);
  return rc;
}
