/* base/clock: seconds on the monotonic clock, for durations (step times, throughput, progress). */
#ifndef BERT_BASE_CLOCK_H
#define BERT_BASE_CLOCK_H

double bert_seconds(void);

#endif
