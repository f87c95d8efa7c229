/* base/pyregex: the reference's benchmark regexes on the reference's log lines give what Python's
 * re.findall gives (expected values worked out with CPython 3.11), translations of the supported
 * subset, and clean errors for what is not supported. */
#include <stdlib.h>
#include <string.h>

#include "base/pyregex.h"
#include "test_util.h"

typedef struct collected {
  int n;
  char items[16][64];
} collected;

static int collect(const char *m, size_t len, void *ctx) {
  collected *c = ctx;
  if (c->n < 16) snprintf(c->items[c->n++], sizeof c->items[0], "%.*s", (int)len, m);
  return 0;
}

/* findall(pattern, text) joined with '|' into out; returns the match count or a negative code. */
static long findall(const char *pattern, const char *text, char *out, size_t cap) {
  bert_pyregex r;
  bert_error err = {0};
  if (bert_pyregex_compile(&r, pattern, &err)) {
    fprintf(stderr, "compile %s: %s\n", pattern, err.message);
    return -100;
  }
  collected c = {0};
  long n = bert_pyregex_findall(&r, text, strlen(text), collect, &c, &err);
  bert_pyregex_free(&r);
  out[0] = '\0';
  for (int i = 0; i < c.n; i++) {
    if (i) strncat(out, "|", cap - strlen(out) - 1);
    strncat(out, c.items[i], cap - strlen(out) - 1);
  }
  return n;
}

#define EXPECT(pattern, text, want)                                                   \
  do {                                                                                \
    char got_[512];                                                                   \
    findall(pattern, text, got_, sizeof got_);                                        \
    CHECK_MSG(!strcmp(got_, want), "findall(%s): got '%s', want '%s'", pattern, got_, want); \
  } while (0)

static const char *log_text =
    "Using config: demo_tiny_128\n"
    "Step: 0 / 2 - LR: 1.00e-03 - total loss: 11.035 - mlm_loss: 10.340 - nsp_loss: 0.695 - mlm_acc: 0.000 % "
    "- nsp_acc: 0.438 %: throughput: 19.1 samples/sec\n"
    "Step: 1 / 2 - LR: 1.00e-03 - total loss: 10.952 - mlm_loss: 10.238 - nsp_loss: 0.714 - mlm_acc: 0.000 % "
    "- nsp_acc: 0.438 %: throughput: 18.2 samples/sec\n"
    "Step: 2 / 2 - LR: 1.00e-03 - total loss: 10.689 - mlm_loss: 9.988 - nsp_loss: 0.701 - mlm_acc: 0.013 % "
    "- nsp_acc: 0.375 %: throughput: 17.7 samples/sec\n"
    "Training time: 2.623 secs\n";

static void test_reference_regexes(void) {
  EXPECT("throughput: *(.*?) samples/sec", log_text, "19.1|18.2|17.7");
  EXPECT("throughput: *(.*?) samples\\/sec", log_text, "19.1|18.2|17.7");
  EXPECT("mlm_acc: *(.*?) \\%", log_text, "0.000|0.000|0.013");
  EXPECT("nsp_acc: *(.*?) \\%", log_text, "0.438|0.438|0.375");
  EXPECT("nsp_loss: *(\\d*\\.\\d*)", log_text, "0.695|0.714|0.701");
  EXPECT("mlm_loss: *(\\d*\\.\\d*)", log_text, "10.340|10.238|9.988");
  EXPECT("total loss: *(\\d*\\.\\d*)", log_text, "11.035|10.952|10.689");
  EXPECT("loss: *(\\d*\\.\\d*)", "loss: 1.5 x\nloss: 0.25\n", "1.5|0.25");
  EXPECT("latency: *(.*?) ms \\(mean\\)", "latency: 12.5 ms (mean), latency: 3 ms (mean)\n", "12.5|3");
  EXPECT("throughput:\\s*([\\d\\.]+),", "throughput: 12.5, x throughput:3,", "12.5|3");
}

static void test_semantics(void) {
  /* lazy: two matches on one line, where a greedy .* would take one long match */
  EXPECT("a: *(.*?) z", "a: 1 z a: 2 z\n", "1|2");
  EXPECT("a: *(.*) z", "a: 1 z a: 2 z\n", "1 z a: 2");
  /* . stops at newlines, as in Python without DOTALL */
  EXPECT("x(.*)", "x12\nx3\n", "12|3");
  /* no group: the whole match; several groups: the first capturing one */
  EXPECT("\\d+", "a1 b22 c333", "1|22|333");
  EXPECT("(?:v=)(\\d+)-(\\d+)", "v=1-2 v=3-4", "1|3");
  EXPECT("(?P<num>\\d+)ms", "5ms 70ms", "5|70");
  /* { without a repetition is literal, as Python */
  EXPECT("{x}", "a{x}b", "{x}");
  EXPECT("\\d{2,3}", "1 12 1234", "12|123");
  EXPECT("\\d{,2}x", "123x", "23x");
  EXPECT("[\\d.]+", "v 1.5 and 2", "1.5|2");
  EXPECT("[\\]a]+", "x]a]y", "]a]");
  EXPECT("[a\\-]+", "b-a-c", "-a-");
  EXPECT("\\s+", "a \t b", " \t ");
  EXPECT("^Step: (\\d+)", "Step: 1\nStep: 2\n", "1|2");
  EXPECT("nothing here", log_text, "");
  /* empty matches advance */
  char out[64];
  CHECK(findall("x*", "ab", out, sizeof out) == 3);
}

static void test_translation(void) {
  struct {
    const char *py, *posix;
    int lazy, group;
  } cases[] = {
      {"throughput: *(.*?) samples\\/sec", "throughput: *(.*) samples/sec", 1, 1},
      {"nsp_loss: *(\\d*\\.\\d*)", "nsp_loss: *([0-9]*\\.[0-9]*)", 0, 1},
      {"mlm_acc: *(.*?) \\%", "mlm_acc: *(.*) %", 1, 1},
      {"(?:a)(b)", "(a)(b)", 0, 2},
      {"\\w\\W\\S", "[[:alnum:]_][^[:alnum:]_][^[:space:]]", 0, 0},
      {"a{2}?b+?", "a{2}b+", 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bert_strbuf out = {0};
    bert_error err = {0};
    int lazy = -1, group = -1;
    int rc = bert_pyregex_translate(cases[i].py, &out, &lazy, &group, &err);
    CHECK_MSG(!rc, "%s: %s", cases[i].py, err.message);
    CHECK_MSG(out.data && !strcmp(out.data, cases[i].posix), "%s -> %s", cases[i].py, out.data);
    CHECK(lazy == cases[i].lazy && group == cases[i].group);
    bert_strbuf_free(&out);
  }
}

static void test_errors(void) {
  const char *bad[] = {"(a)\\1", "\\bword", "(?=x)", "abc\\", "[a", "(?i)abc", "[\\D]", "(", "a**"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bert_pyregex r;
    bert_error err = {0};
    int rc = bert_pyregex_compile(&r, bad[i], &err);
    CHECK_MSG(rc < 0 && strstr(err.message, bad[i]), "'%s' should fail naming itself: %s", bad[i], err.message);
    if (!rc) bert_pyregex_free(&r);
  }
}

int main(void) {
  test_reference_regexes();
  test_semantics();
  test_translation();
  test_errors();
  return test_summary("base/pyregex");
}
