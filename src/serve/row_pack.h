/* serve/row_pack: which sequences of a dynamic batch share a row of the packed batch. The rows'
 * real tokens (attention mask 1) are laid one after another in bins of the model's maximum
 * length, first-fit decreasing, and the block-diagonal attention mask keeps them apart, so a
 * 16-token request next to a 384-token one costs 16 tokens instead of 384. */
#ifndef BERT_SERVE_ROW_PACK_H
#define BERT_SERVE_ROW_PACK_H

/* Packs n rows of len[i] tokens (0 <= len[i] <= capacity) into bins of `capacity` tokens:
 * row i goes to bin[i] at token offset[i]. `scratch` holds 2n ints. Returns the number of
 * bins; *max_fill receives the fullest bin's token count. Bins are numbered in creation order. */
int bert_serve_pack_rows(const int *len, int n, int capacity, int *scratch, int *bin, int *offset, int *max_fill);

#endif
