/* data/sentence_split: the sentence boundaries NLTK's Punkt finds (or would find) on the cases the
 * Wikipedia preprocessing meets: abbreviations, initials, decimals, quotes, ellipses. */
#include <stdio.h>
#include <string.h>

#include "data/sentence_split.h"
#include "test_util.h"

/* Splits `text` and compares with the expected sentences joined by " | ". */
static void expect(const char *text, const char *want) {
  char got[4096] = "";
  bert_sentence_iter it;
  size_t a, b;
  bert_sentence_iter_init(&it, text, strlen(text));
  while (bert_sentence_next(&it, &a, &b)) {
    if (got[0]) strcat(got, " | ");
    strncat(got, text + a, b - a);
  }
  CHECK_MSG(!strcmp(got, want), "\n  text: %s\n  got:  %s\n  want: %s", text, got, want);
}

static void abbreviations(void) {
  expect("Dr. Smith went to Washington. He arrived late.", "Dr. Smith went to Washington. | He arrived late.");
  expect("Mr. and Mrs. Jones live in St. Louis with Prof. Brown.", "Mr. and Mrs. Jones live in St. Louis with Prof. Brown.");
  expect("He moved to the U.S.A. in 1990. Then he left.", "He moved to the U.S.A. in 1990. | Then he left.");
  expect("He moved to the U.S.A. The country was big.", "He moved to the U.S.A. | The country was big.");
  expect("The U.S. Army and the U.K. Navy met.", "The U.S. Army and the U.K. Navy met.");
  expect("Fruit, e.g. apples, i.e. red ones, etc. are fine.", "Fruit, e.g. apples, i.e. red ones, etc. are fine.");
  expect("Apples, pears, etc. The rest went bad.", "Apples, pears, etc. | The rest went bad.");
  expect("Acme Inc. was founded in 1900.", "Acme Inc. was founded in 1900.");
  expect("See Fig. 3 and No. 5 for details.", "See Fig. 3 and No. 5 for details.");
  expect("He earned a Ph.D. in physics.", "He earned a Ph.D. in physics.");
  expect("It opened on Jan. 5, 1990 at 10 a.m. sharp.", "It opened on Jan. 5, 1990 at 10 a.m. sharp.");
}

static void initials(void) {
  expect("J. R. R. Tolkien wrote it.", "J. R. R. Tolkien wrote it.");
  expect("The author is J. R. R. Tolkien. He was born in 1892.", "The author is J. R. R. Tolkien. | He was born in 1892.");
  expect("Music by J. S. Bach is played.", "Music by J. S. Bach is played.");
  expect("It was World War I. The war ended in 1918.", "It was World War I. | The war ended in 1918.");
}

static void numbers(void) {
  expect("Pi is about 3.14 and e is 2.718.", "Pi is about 3.14 and e is 2.718.");
  expect("The value rose 3.5% to 1,234.56 dollars. It fell later.",
         "The value rose 3.5% to 1,234.56 dollars. | It fell later.");
  expect("It was founded in 1990. The company grew.", "It was founded in 1990. | The company grew.");
  expect("Version 2. is not a sentence end in lists.", "Version 2. is not a sentence end in lists.");
}

static void quotes_and_brackets(void) {
  expect("He said \"Stop.\" Then he left.", "He said \"Stop.\" | Then he left.");
  expect("She asked \"Why?\" and waited.", "She asked \"Why?\" and waited.");
  expect("\"Why?\" asked the Guru. He left.", "\"Why?\" asked the Guru. | He left.");
  expect("Yahoo! is a company. Really!", "Yahoo! is a company. | Really!");
  expect("Toads (\"Bufo spp.\") have no teeth.", "Toads (\"Bufo spp.\") have no teeth.");
  expect("mentioned in any of [the] . . . surviving memos.", "mentioned in any of [the] . . . surviving memos.");
  expect("It is large (see above.) Next we turn to size.", "It is large (see above.) | Next we turn to size.");
  expect("\u201cHello.\u201d She smiled.", "\u201cHello.\u201d | She smiled.");
  expect("It ended in (1990). After that, peace.", "It ended in (1990). | After that, peace.");
}

static void ellipses_and_punctuation(void) {
  expect("Wait... what happened?", "Wait... what happened?");
  expect("Wait... What happened next?", "Wait... | What happened next?");
  expect("Wait\u2026 what happened?", "Wait\u2026 what happened?");
  expect("Really?! Yes. No!", "Really?! | Yes. | No!");
  expect("A sentence without an end", "A sentence without an end");
  expect("Ends with an abbreviation etc.", "Ends with an abbreviation etc.");
}

static void whitespace_and_unicode(void) {
  expect("  Leading and trailing spaces.   Next one.  \n", "Leading and trailing spaces. | Next one.");
  expect("", "");
  expect("   \n", "");
  expect("Tiếng Việt là ngôn ngữ. Đây là tiếng mẹ đẻ.", "Tiếng Việt là ngôn ngữ. | Đây là tiếng mẹ đẻ.");
  expect("Theo A. G. Haudricourt giải thích.", "Theo A. G. Haudricourt giải thích.");
  expect("example.com is a site. It works.", "example.com is a site. | It works.");
  expect("One.Two.", "One.Two.");
}

int main(void) {
  abbreviations();
  initials();
  numbers();
  quotes_and_brackets();
  ellipses_and_punctuation();
  whitespace_and_unicode();
  return test_summary("test_sentence_split");
}
