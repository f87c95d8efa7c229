/* data/html_entities: the named character references of HTML 4 (the set WikiExtractor decodes). */
#ifndef BERT_DATA_HTML_ENTITIES_H
#define BERT_DATA_HTML_ENTITIES_H

#include <stdint.h>

/* The code point of a named entity ("nbsp" -> 0xA0), or 0 when the name is unknown. */
uint32_t bert_html_entity(const char *name);

#endif
