/* base/threads: the size of the OpenMP teams bertc's kernels and oneDNN run with. oneDNN 2.6 (with
 * the OpenMP runtime) splits a product into as many parts as the team it asks for and assumes it
 * gets that team: when OMP_THREAD_LIMIT (or a caller) allows fewer threads than
 * omp_get_max_threads() says, parts are never computed and results are silently wrong. Every
 * team-size change goes through here, clamped to the runtime's thread limit. */
#ifndef BERT_BASE_THREADS_H
#define BERT_BASE_THREADS_H

/* omp_set_num_threads(n) within omp_get_thread_limit(); n <= 0 keeps the current size, clamped. */
void bert_threads_set(int n);

#endif
