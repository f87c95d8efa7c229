#include "train/schedule.h"

#include <math.h>
#include <string.h>

int bert_lr_schedule_parse(const char *name, bert_lr_schedule *out, bert_error *err) {
  if (name && !strcmp(name, "constant")) *out = BERT_LR_CONSTANT;
  else if (name && !strcmp(name, "linear")) *out = BERT_LR_LINEAR;
  else
    return bert_error_set(err, BERT_EINVAL, "lr schedule: invalid choice '%s' (choose from 'constant', 'linear')",
                          name ? name : "(null)");
  return BERT_OK;
}

const char *bert_lr_schedule_name(bert_lr_schedule kind) {
  return kind == BERT_LR_LINEAR ? "linear" : "constant";
}

int64_t bert_lr_warmup_steps(double warmup_fraction, int64_t total) {
  double product = warmup_fraction * (double)total;
  /* The C cast truncates toward zero like Python's int(); guard what the cast cannot represent. */
  if (!(product > 0.0)) return 0;
  if (product >= 9.2e18) return INT64_MAX;
  return (int64_t)product;
}

static int64_t max1(int64_t x) { return x > 1 ? x : 1; }

double bert_lr_multiplier(bert_lr_schedule kind, int64_t step, int64_t total, double warmup_fraction) {
  if (kind != BERT_LR_LINEAR) return 1.0;
  int64_t warmup = bert_lr_warmup_steps(warmup_fraction, total);
  if (step < warmup) return (double)step / (double)max1(warmup);
  double decay = (double)(total - step) / (double)max1(total - warmup);
  return decay > 0.0 ? decay : 0.0;
}
