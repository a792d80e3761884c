/* The plugin's lightning-cli commands, as a table plugin.c puts in the
 * manifest and dispatches from. */
#ifndef L402_COMMANDS_H
#define L402_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

struct cmd;
struct json_doc;
typedef void (*command_fn)(struct cmd *cmd, const struct json_doc *doc, int params);
/* What the command would refuse in its bound parameters, changing nothing;
 * false when it answered cmd. */
typedef bool (*command_check_fn)(struct cmd *cmd, const struct json_doc *doc, const int *tok);
struct command {
	const char *name;
	const char *usage;
	const char *description;
	command_fn fn;
	command_check_fn check;	/* NULL: its parameters' names are all it checks */
};
extern const struct command commands[];
extern const size_t ncommands;

/* lightningd's `check` of one of our commands or of setconfig of one of
 * our options (the manifest says "cancheck"). */
void commands_check(struct cmd *cmd, const struct json_doc *doc, int params);

#endif
