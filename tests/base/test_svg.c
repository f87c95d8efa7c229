/* base/svg: nice ticks, XML escaping, decimation bounds and gaps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/svg.h"
#include "test_util.h"

static void test_ticks(void) {
  double first, step;
  int count;
  bert_svg_ticks(0.07, 11.2, 6, 0, &first, &step, &count);
  CHECK(first == 0 && step == 2 && count == 7); /* 0 2 4 ... 12 */
  bert_svg_ticks(0, 149, 8, 1, &first, &step, &count);
  CHECK(step == 20 && first == 0 && count == 9);
  bert_svg_ticks(0, 2, 8, 1, &first, &step, &count); /* steps: never fractional */
  CHECK(step == 1 && count == 3);
  bert_svg_ticks(0, 1e-3, 6, 0, &first, &step, &count);
  CHECK_NEAR(step, 2e-4, 1e-12);
  bert_svg_ticks(-3, -3, 6, 0, &first, &step, &count); /* zero span: still an axis */
  CHECK(count >= 2 && step > 0 && first <= -3 && first + (count - 1) * step >= -3);
}

static void test_escape(void) {
  bert_strbuf s = {0};
  bert_svg_escape(&s, "a<b>&\"c'\x01");
  CHECK(s.data && !strcmp(s.data, "a&lt;b&gt;&amp;&quot;c&apos;?"));
  bert_strbuf_free(&s);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
  return n;
}

static void test_decimation_and_gaps(void) {
  enum { N = 100000 };
  double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  for (int i = 0; i < N; i++) x[i] = i, y[i] = i == 5000 ? NAN : sin(i * 0.01);
  bert_svg_series s = {.id = "s", .label = "s", .color = "#000", .x = x, .y = y, .n = N};
  bert_svg_panel p = {.title = "t", .xlabel = "x", .ylabel = "y", .series = &s, .nseries = 1, .integer_x = 1,
                      .ymin_hint = NAN, .ymax_hint = NAN};
  bert_strbuf out = {0};
  bert_error err = {0};
  CHECK(bert_svg_chart(&out, "chart", &p, 1, &err) == 0);
  CHECK(count_of(out.data, "<polyline") == 2);           /* the NaN splits the line */
  CHECK(count_of(out.data, ",") < 2 * 4 * 700 + 100);    /* ≤ 4 points per pixel column per run */
  CHECK(out.len < 200000);
  bert_strbuf_free(&out);
  free(x), free(y);
}

int main(void) {
  test_ticks();
  test_escape();
  test_decimation_and_gaps();
  return test_summary("base/svg");
}
