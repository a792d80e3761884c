/* The plugin's lightning-cli commands. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "state.h"
#include "options.h"
#include "paid.h"
#include "routes.h"
#include "protocol.h"
#include "rpc.h"

static void cmd_status(struct cmd *cmd, const struct json_doc *doc, int params)
{
	struct strbuf sb;
	struct json_out j;
	int tok[1];
	static const char *const names[] = { "?verbose" };

	if (!param_bind(cmd, doc, params, names, 0, tok))
		return;
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_add_string(&j, "version", L402_VERSION);
	json_array_start(&j, "bind");
	for (size_t i = 0; i < l402.nlisteners; i++)
		json_add_string(&j, NULL, l402.listeners[i].addr);
	json_array_end(&j);
	json_add_u64(&j, "routes", routes_count());
	json_add_u64(&j, "invoice_expiry", (uint64_t)l402.cfg.invoice_expiry);
	json_add_string(&j, "cors_origin", l402.cfg.cors_origin);
	json_add_bool(&j, "rpc_connected", rpc_connected());
	json_add_bool(&j, "secret_ready", secret_ready());
	json_add_u64(&j, "secret_generation", secret_generation());
	/* A fingerprint lets an operator compare secrets without seeing one. */
	uint8_t sec[32], h[32];
	if (secret_get(sec)) {
		crypto_hash_sha256(h, sec, sizeof(sec));
		json_add_hex(&j, "secret_fingerprint", h, 8);
		sodium_memzero(sec, sizeof(sec));
	}
	json_object_start(&j, "paid_state");
	json_add_bool(&j, "loaded", paid_loaded());
	json_add_u64(&j, "paid_invoices", paid_count());
	json_add_u64(&j, "pay_index", paid_pay_index());
	json_add_u64(&j, "payments_seen", l402.invoices_paid);
	json_object_end(&j);
	json_object_end(&j);
	cmd_success(cmd, &sb);
	strbuf_free(&sb);
}

const struct command commands[] = {
	{ "l402-status", "", "Version, HTTP addresses, routes and paid-state counters of the L402 paywall", cmd_status },
};
const size_t ncommands = sizeof(commands) / sizeof(commands[0]);
