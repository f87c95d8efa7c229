/* serve/web_page: the browser page of `bert serve` — a question-answering form (src/serve/web/
 * qa.html, compiled into the program) at / and /qa while a "bertc-qa-text" model is loaded: paste
 * a passage, ask, see the answer highlighted, its score and the n-best list. The page only talks
 * to this server's v2 infer endpoint; its Content-Security-Policy allows nothing else (its inline
 * script and style by a per-response nonce, connections to 'self'). */
#ifndef BERT_SERVE_WEB_PAGE_H
#define BERT_SERVE_WEB_PAGE_H

#include "serve/endpoints.h"

/* Serves the page (GET, HEAD; other methods get a 405) and returns 1 when the call is for it;
 * returns 0 without replying otherwise — every other path, and / and /qa when no bertc-qa-text
 * model is loaded (the v2 routes then answer, with a 404). */
int bert_serve_web_page_handle(bert_serve_endpoints *ep, bert_serve_http_call *c);

#endif
