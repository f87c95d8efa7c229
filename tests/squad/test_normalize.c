/* squad/evaluate: normalize_answer, exact match and token F1 as the official SQuAD scripts compute
 * them under Python 3 (expected values worked out with Python 3.11's str.lower, re and split). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "squad/evaluate.h"
#include "test_util.h"

static void check_norm(const char *in, const char *want) {
  char *got = bert_squad_normalize(in, strlen(in));
  CHECK_MSG(got && !strcmp(got, want), "normalize(\"%s\") = \"%s\", want \"%s\"", in, got ? got : "(null)", want);
  free(got);
}

static void check_repr(double v, const char *want) {
  char buf[64];
  bert_squad_format_double(v, buf, sizeof buf);
  CHECK_MSG(!strcmp(buf, want), "repr(%.17g) = %s, want %s", v, buf, want);
}

int main(void) {
  /* punctuation: every ASCII punctuation character goes, without leaving a space */
  check_norm("Hello, World!", "hello world");
  check_norm("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "");
  check_norm("U.S.A.", "usa");
  check_norm("rock'n'roll", "rocknroll");
  check_norm("1,000-2,000", "10002000");
  check_norm("«quoted» — dash", "«quoted» — dash"); /* non-ASCII punctuation stays */
  /* articles: whole words only, case-insensitive after lower-casing */
  check_norm("The theater", "theater");
  check_norm("a an the", "");
  check_norm("anthem", "anthem");
  check_norm("Ana and an apple", "ana and apple");
  check_norm("the_end", "theend");                /* "_" is punctuation: removed before the articles */
  check_norm("the-end", "theend");                /* punctuation goes first */
  check_norm("the2", "the2");
  check_norm("théâtre", "théâtre");
  check_norm("the\xcc\x81 a", "\xcc\x81");        /* U+0301 is not \w: "the" before it is a word */
  check_norm("\xc3\xa9the", "\xc3\xa9the");       /* é is \w: no boundary before "the" */
  check_norm("the\xe2\x80\x8b" "a", "\xe2\x80\x8b"); /* ZWSP (Cf) is not \w and not whitespace */
  check_norm("THE Beatles", "beatles");
  /* Unicode lower-casing, whitespace */
  check_norm("ÉCOLE Straße ΑΘΗΝΑ", "école straße αθηνα");
  check_norm("ΟΔΟΣ ΣΑΣ Σ", "οδος σας σ");         /* final sigma */
  check_norm("İstanbul", "i\xcc\x87stanbul");     /* 'İ'.lower() is 'i' + U+0307 */
  check_norm("  a\tb\nc\xc2\xa0" "d\xe3\x80\x80" "e\xe2\x80\xa8" "f\xc2\x85g  ", "b c d e f g");
  check_norm("", "");
  check_norm("   ", "");
  check_norm("x\x1cy\x1fz", "x y z");             /* \x1c-\x1f are whitespace to Python */
  /* exact match */
  CHECK(bert_squad_exact("The Eiffel Tower.", "eiffel tower"));
  CHECK(!bert_squad_exact("Eiffel", "eiffel tower"));
  CHECK(bert_squad_exact("", "the"));
  /* F1 */
  CHECK_NEAR(bert_squad_f1("the cat sat", "cat", 0), 2.0 * 0.5 * 1.0 / 1.5, 1e-15);
  CHECK_NEAR(bert_squad_f1("a b c", "d e", 0), 0.0, 0);
  CHECK_NEAR(bert_squad_f1("b b a", "b a a", 0), 2.0 / 3.0, 1e-15); /* Counter intersection */
  CHECK_NEAR(bert_squad_f1("b b", "b", 0), 2.0 * 0.5 / 1.5, 1e-15);
  CHECK(bert_squad_f1("Denver Broncos", "Denver Broncos", 0) == 1.0);
  CHECK(bert_squad_f1("", "", 0) == 0.0);  /* v1.1: no common tokens */
  CHECK(bert_squad_f1("", "", 1) == 1.0);  /* v2.0: both no-answer */
  CHECK(bert_squad_f1("the", "", 1) == 1.0);
  CHECK(bert_squad_f1("x", "", 1) == 0.0);
  CHECK(bert_squad_f1("", "x", 1) == 0.0);
  CHECK_NEAR(bert_squad_f1("one two three four", "two four five", 1), 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0), 1e-15);
  /* Python repr of floats */
  check_repr(86.20624408703878, "86.20624408703878");
  check_repr(100.0, "100.0");
  check_repr(0.0, "0.0");
  check_repr(50.0, "50.0");
  check_repr(1.0 / 3.0, "0.3333333333333333");
  check_repr(0.0001, "0.0001");
  check_repr(0.00001, "1e-05");
  check_repr(1e16, "1e+16");
  check_repr(123456789012345678.0, "1.2345678901234568e+17");
  check_repr(-2.5, "-2.5");
  check_repr(0.1, "0.1");
  return test_summary("squad/normalize");
}
