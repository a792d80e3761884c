/* The plugin's lightningd options: one table gives the manifest, init's
 * parsing and validation, and setconfig for the dynamic ones. */
#ifndef L402_OPTIONS_H
#define L402_OPTIONS_H

#include "json_in.h"
#include "json_out.h"
#include "core/state.h"

/* Writes the "options" array of the manifest. */
void options_manifest(struct json_out *j);
/* Reads init's options object into cfg. Returns NULL, or why not (a
 * sentence naming the option, for {"disable": ...}). */
const char *options_init(const struct json_doc *doc, int options,
			 struct l402_config *cfg);
/* setconfig of one dynamic option. Returns NULL or the reason it failed. */
const char *options_set(const char *name, const struct json_doc *doc, int val,
			struct l402_config *cfg);
/* What options_set would say, changing nothing (lightning-cli check). */
const char *options_check(const char *name, const struct json_doc *doc, int val);
void options_free(struct l402_config *cfg);

#endif
