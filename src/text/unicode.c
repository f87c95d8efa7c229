#include "text/unicode.h"

#include <utf8proc.h>

static int is_ascii_punct(int32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
         (cp >= 123 && cp <= 126);
}

/* The "CJK Unified Ideographs" blocks as Google's _is_chinese_char lists them (Hangul, kana and
 * other East Asian scripts are deliberately not included). */
static int is_cjk(int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int is_punct_category(utf8proc_category_t cat) {
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

int bert_unicode_is_punct(int32_t cp) {
  if (cp < 128) return is_ascii_punct(cp);
  return is_punct_category(utf8proc_category(cp));
}

bert_char_class bert_unicode_class(int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') return BERT_CHAR_SPACE;
  if (cp == 0 || cp == 0xFFFD) return BERT_CHAR_DROP;
  if (is_cjk(cp)) return BERT_CHAR_CJK;
  if (cp < 128 && is_ascii_punct(cp)) return BERT_CHAR_PUNCT;
  utf8proc_category_t cat = utf8proc_category(cp);
  switch (cat) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return BERT_CHAR_SPACE;
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF: return BERT_CHAR_DROP;
    default: return is_punct_category(cat) ? BERT_CHAR_PUNCT : BERT_CHAR_WORD;
  }
}

int bert_unicode_lower_strip(int32_t cp, int final_sigma, int32_t out[4]) {
  int32_t lower = (cp == 0x03A3 && final_sigma) ? 0x03C2 : utf8proc_tolower(cp);
  int32_t buf[16];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(lower, buf, 16, UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n < 0 || n > 16) { /* cannot happen for a valid code point; keep the character as it is */
    buf[0] = lower;
    n = 1;
  }
  int kept = 0;
  for (utf8proc_ssize_t i = 0; i < n && kept < 4; i++)
    if (utf8proc_category(buf[i]) != UTF8PROC_CATEGORY_MN) out[kept++] = buf[i];
  return kept;
}

/* --- Python's Final_Sigma condition (Unicode SpecialCasing.txt) --- */

/* Unicode's Case_Ignorable: Mn, Me, Cf, Lm, Sk, and the Word_Break classes MidLetter, MidNumLet
 * and Single_Quote, which utf8proc does not expose, hence the short list. */
static int is_case_ignorable(int32_t cp) {
  static const int32_t mid[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x55F,  0x5F4,
                                0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55,
                                0xFF07, 0xFF0E, 0xFF1A};
  for (size_t i = 0; i < sizeof mid / sizeof mid[0]; i++)
    if (cp == mid[i]) return 1;
  utf8proc_category_t cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
         cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
         cat == UTF8PROC_CATEGORY_SK;
}

/* Unicode's Cased: Lu, Ll, Lt, and the Other_Lowercase/Other_Uppercase symbols, which all have a
 * case mapping. */
static int is_cased(int32_t cp) {
  utf8proc_category_t cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT || utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

/* Decodes the character ending at text[end]; returns its start, or end - 1 with *cp = -1 for a
 * byte that is not the end of a valid sequence. */
static size_t decode_before(const char *text, size_t end, int32_t *cp) {
  size_t start = end - 1;
  while (start > 0 && end - start < 4 && ((unsigned char)text[start] & 0xC0) == 0x80) start--;
  utf8proc_int32_t c;
  utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + start,
                                        (utf8proc_ssize_t)(end - start), &c);
  if (n > 0 && start + (size_t)n == end) {
    *cp = c;
    return start;
  }
  *cp = -1;
  return end - 1;
}

/* Scans from the sigma outwards; returns 1 if the first character that is neither removed nor
 * case-ignorable is cased, 0 if it is not cased or the word ends first. */
static int cased_before(const char *text, size_t pos) {
  while (pos > 0) {
    int32_t cp;
    pos = decode_before(text, pos, &cp);
    if (cp < 0) continue;
    bert_char_class cls = bert_unicode_class(cp);
    if (cls == BERT_CHAR_SPACE || cls == BERT_CHAR_CJK) return 0;
    if (cls == BERT_CHAR_DROP || is_case_ignorable(cp)) continue;
    return is_cased(cp);
  }
  return 0;
}

static int cased_after(const char *text, size_t len, size_t pos) {
  while (pos < len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + pos,
                                          (utf8proc_ssize_t)(len - pos), &cp);
    if (n <= 0) {
      pos++;
      continue;
    }
    pos += (size_t)n;
    bert_char_class cls = bert_unicode_class(cp);
    if (cls == BERT_CHAR_SPACE || cls == BERT_CHAR_CJK) return 0;
    if (cls == BERT_CHAR_DROP || is_case_ignorable(cp)) continue;
    return is_cased(cp);
  }
  return 0;
}

int bert_unicode_sigma_is_final(const char *text, size_t len, size_t pos) {
  return cased_before(text, pos) && !cased_after(text, len, pos + 2);
}

static int starts_code_point(unsigned char c) { return (c & 0xC0) != 0x80; }

size_t bert_utf8_byte_offset(const char *text, size_t len, int64_t index) {
  int64_t seen = 0;
  for (size_t i = 0; i < len; i++) {
    if (!starts_code_point((unsigned char)text[i])) continue;
    if (seen == index) return i;
    seen++;
  }
  return len;
}

int64_t bert_utf8_code_points(const char *text, size_t len) {
  int64_t n = 0;
  for (size_t i = 0; i < len; i++) n += starts_code_point((unsigned char)text[i]);
  return n;
}
