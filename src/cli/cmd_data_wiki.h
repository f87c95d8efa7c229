/* cli/cmd_data_wiki: the Wikipedia subcommands of `bert data` (wiki-extract, wiki-preprocess,
 * wikipedia), dispatched from cmd_data.c. */
#ifndef BERT_CLI_CMD_DATA_WIKI_H
#define BERT_CLI_CMD_DATA_WIKI_H

int cmd_data_wiki_extract(int argc, char **argv);
int cmd_data_wiki_preprocess(int argc, char **argv);
int cmd_data_wikipedia(int argc, char **argv);

#endif
