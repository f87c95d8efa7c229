/* base/log: the program's messages on stderr, in the reference's plain "%(message)s" style. */
#ifndef BERT_BASE_LOG_H
#define BERT_BASE_LOG_H

void bert_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bert_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
