/* LR schedules (reference 4.6): constant is 1; linear warms up from 0 over W = int(warmup x T)
 * steps (the float64 product truncated, as Python's int()) and decays to 0 at T; boundaries at
 * 0, W-1, W, T-1, T, warm-up 0 and T == W; the reference's W for its configs. */
#include <math.h>
#include <string.h>

#include "test_util.h"
#include "train/schedule.h"

static double lin(int64_t s, int64_t t, double w) { return bert_lr_multiplier(BERT_LR_LINEAR, s, t, w); }

static void test_constant(void) {
  for (int64_t s = 0; s <= 12; s += 3) CHECK(bert_lr_multiplier(BERT_LR_CONSTANT, s, 10, 0.5) == 1.0);
}

static void test_linear_boundaries(void) {
  /* T = 100, warm-up 0.1 -> W = 10 */
  CHECK(bert_lr_warmup_steps(0.1, 100) == 10);
  CHECK(lin(0, 100, 0.1) == 0.0);            /* step 0 trains with LR 0 */
  CHECK(lin(1, 100, 0.1) == 1.0 / 10.0);
  CHECK(lin(9, 100, 0.1) == 9.0 / 10.0);     /* W - 1 */
  CHECK(lin(10, 100, 0.1) == 1.0);           /* W: (T - W) / (T - W) */
  CHECK(lin(11, 100, 0.1) == 89.0 / 90.0);
  CHECK(lin(99, 100, 0.1) == 1.0 / 90.0);    /* T - 1 */
  CHECK(lin(100, 100, 0.1) == 0.0);          /* T */
  CHECK(lin(150, 100, 0.1) == 0.0);          /* clamped, never negative */
}

static void test_linear_edges(void) {
  /* warm-up 0: pure decay from 1 */
  CHECK(bert_lr_warmup_steps(0.0, 100) == 0);
  CHECK(lin(0, 100, 0.0) == 1.0);
  CHECK(lin(1, 100, 0.0) == 99.0 / 100.0);
  CHECK(lin(99, 100, 0.0) == 1.0 / 100.0);
  CHECK(lin(100, 100, 0.0) == 0.0);
  /* T == W: warm-up over the whole run, then max(1, T - W) = 1 */
  CHECK(bert_lr_warmup_steps(1.0, 10) == 10);
  CHECK(lin(0, 10, 1.0) == 0.0);
  CHECK(lin(9, 10, 1.0) == 9.0 / 10.0);
  CHECK(lin(10, 10, 1.0) == 0.0);
  /* W == 1: max(1, W) */
  CHECK(lin(0, 10, 0.1) == 0.0);
  CHECK(lin(1, 10, 0.1) == 1.0);
  /* T == 0 */
  CHECK(lin(0, 0, 0.5) == 0.0);
}

static void test_reference_values(void) {
  /* pretrain_base_128 / large_128: T = 7038, warm-up 0.28 -> int(1970.64) = 1970 */
  CHECK(bert_lr_warmup_steps(0.28, 7038) == 1970);
  CHECK(lin(1969, 7038, 0.28) == 1969.0 / 1970.0);
  CHECK(lin(1970, 7038, 0.28) == 1.0);
  CHECK(lin(7037, 7038, 0.28) == 1.0 / 5068.0);
  /* pretrain_*_512: T = 2137, warm-up 0.128 -> int(273.536) = 273 */
  CHECK(bert_lr_warmup_steps(0.128, 2137) == 273);
  /* float64 products just below an integer truncate down, as in Python: 0.29 * 100 = 28.999... */
  CHECK(bert_lr_warmup_steps(0.29, 100) == 28);
  CHECK(bert_lr_warmup_steps(0.57, 100) == 56);
  CHECK(bert_lr_warmup_steps(-0.5, 100) == 0);
  CHECK(bert_lr_warmup_steps(NAN, 100) == 0);
}

static void test_names(void) {
  bert_lr_schedule k;
  bert_error err = {0};
  CHECK(bert_lr_schedule_parse("linear", &k, &err) == 0 && k == BERT_LR_LINEAR);
  CHECK(bert_lr_schedule_parse("constant", &k, &err) == 0 && k == BERT_LR_CONSTANT);
  CHECK(bert_lr_schedule_parse("cosine", &k, &err) == BERT_EINVAL && strstr(err.message, "cosine"));
  CHECK(!strcmp(bert_lr_schedule_name(BERT_LR_LINEAR), "linear"));
}

int main(void) {
  test_constant();
  test_linear_boundaries();
  test_linear_edges();
  test_reference_values();
  test_names();
  return test_summary("test_schedule");
}
