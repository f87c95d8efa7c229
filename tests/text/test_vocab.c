#include <string.h>

#include "base/file.h"
#include "test_util.h"
#include "text/vocab.h"

int main(void) {
  bert_vocab v;
  bert_error err = {0};
  CHECK(bert_vocab_load(&v, "data/vocab.txt", &err) == 0);
  CHECK(v.size == 30522);
  CHECK(bert_vocab_find(&v, "[CLS]", 5) == 101);
  CHECK(bert_vocab_find(&v, "[SEP]", 5) == 102);
  CHECK(bert_vocab_find(&v, "the", 3) == 1996);
  CHECK(bert_vocab_find(&v, "##ing", 5) == 2075);
  CHECK(bert_vocab_find(&v, "thex", 3) == 1996);
  CHECK(bert_vocab_find(&v, "notawordpiece", 13) == -1);
  CHECK(strcmp(bert_vocab_token(&v, 100), "[UNK]") == 0);
  CHECK(bert_vocab_token(&v, 30522) == NULL);
  bert_vocab_free(&v);

  CHECK(bert_vocab_load(&v, "tests/data/does-not-exist.txt", &err) == BERT_EIO);
  CHECK(strstr(err.message, "does-not-exist.txt") != NULL);
  return test_summary("vocab");
}
