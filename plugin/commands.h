/* The plugin's lightning-cli commands, as a table plugin.c puts in the
 * manifest and dispatches from. */
#ifndef L402_COMMANDS_H
#define L402_COMMANDS_H

#include <stddef.h>

struct cmd;
struct json_doc;
typedef void (*command_fn)(struct cmd *cmd, const struct json_doc *doc, int params);
struct command {
	const char *name;
	const char *usage;
	const char *description;
	command_fn fn;
};
extern const struct command commands[];
extern const size_t ncommands;

#endif
