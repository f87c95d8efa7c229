/* train/schedule: learning-rate schedules as the reference (REFERENCE 4.6, HuggingFace's
 * get_constant_schedule / get_linear_schedule_with_warmup). The multiplier is evaluated in double
 * exactly as the Python lambda does; the trainer pushes lr = (float)(peak_lr * multiplier), with
 * peak_lr in double, like LambdaLR followed by PopTorch's float32 optimizer. */
#ifndef BERT_TRAIN_SCHEDULE_H
#define BERT_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "base/error.h"

typedef enum bert_lr_schedule {
  BERT_LR_CONSTANT = 0, /* multiplier 1 (lr_warmup ignored, as the reference) */
  BERT_LR_LINEAR,       /* linear warm-up from 0, then linear decay to 0 at the last step */
} bert_lr_schedule;

/* "constant" / "linear" (the reference's --lr-schedule choices). */
int bert_lr_schedule_parse(const char *name, bert_lr_schedule *out, bert_error *err);
const char *bert_lr_schedule_name(bert_lr_schedule kind);

/* W = int(warmup_fraction * total): the float64 product truncated toward zero, as Python's int()
 * (0.28 * 7038 = 1970.64 -> 1970). Non-finite or negative products give 0. */
int64_t bert_lr_warmup_steps(double warmup_fraction, int64_t total);

/* Multiplier of the peak LR for 0-based scheduler step `step` of `total`:
 * constant -> 1; linear -> s / max(1, W) for s < W, else max(0, (T - s) / max(1, T - W)). */
double bert_lr_multiplier(bert_lr_schedule kind, int64_t step, int64_t total, double warmup_fraction);

#endif
