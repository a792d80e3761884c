#include "store/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "encoding.h"
#include "lightningd/datastore.h"

#define DS_GROUP "charge"
#define PRUNE_EVERY_MS (3600 * 1000)

static const char *const purposes[] = {
	[CREDIT_CHARGE] = "charge", [CREDIT_DEPOSIT] = "deposit", [CREDIT_TOPUP] = "topup",
};

/* "EXPIRES PURPOSE [SESSION]", or "EXPIRES" alone (a charge's, from before). */
static void credit_format(const struct credit *c, char *out, size_t len)
{
	char session[65] = "";
	if (c->purpose != CREDIT_CHARGE)
		hex_encode(c->session, 32, session, sizeof(session));
	snprintf(out, len, "%lld %s%s%s%s", (long long)c->expires, purposes[c->purpose],
		 session[0] ? " " : "", session, session[0] && c->closed ? " closed" : "");
}

static void credit_parse(const char *v, struct credit *c)
{
	char word[16] = "", session[80] = "", state[16] = "";
	long long expires = 0;
	size_t n;
	memset(c, 0, sizeof(*c));
	c->purpose = CREDIT_CHARGE;
	if (sscanf(v, "%lld %15s %79s %15s", &expires, word, session, state) < 1)
		return;
	c->closed = strcmp(state, "closed") == 0;
	c->expires = expires;
	for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++)
		if (strcmp(word, purposes[i]) == 0)
			c->purpose = (enum credit_purpose)i;
	if (strlen(session) != 64 || !hex_decode(session, 64, c->session, 32, &n))
		memset(c->session, 0, sizeof(c->session));
}

struct crediting {
	credit_cb done;
	void *arg;
	char name[65];
	bool found;
	struct credit prior;
};

static void got_prior(void *arg, const struct ds_entry *e)
{
	struct crediting *k = arg;
	k->found = true;
	credit_parse(e->value, &k->prior);
}

static void prior_read(void *arg, const struct rpc_result *res)
{
	struct crediting *k = arg;
	if (res->status != RPC_OK)
		k->done(k->arg, CREDIT_FAILED, NULL);
	else
		k->done(k->arg, CREDIT_TAKEN, &k->prior);
	free(k);
}

static void written(void *arg, const struct rpc_result *res)
{
	struct crediting *k = arg;
	if (res->status == RPC_ERROR && res->code == DATASTORE_UPDATE_ALREADY_EXISTS) {
		/* Credited before: say for what. */
		ds_get(DS_GROUP, k->name, got_prior, prior_read, k);
		return;
	}
	k->done(k->arg, res->status == RPC_OK ? CREDIT_OK : CREDIT_FAILED, NULL);
	free(k);
}

bool ledger_credit(const uint8_t hash[32], const struct credit *c, credit_cb done, void *arg)
{
	char value[128];
	struct crediting *k = calloc(1, sizeof(*k));
	if (!k || !rpc_connected()) {
		free(k);
		return false;
	}
	k->done = done;
	k->arg = arg;
	k->prior.purpose = CREDIT_CHARGE;
	hex_encode(hash, 32, k->name, sizeof(k->name));
	credit_format(c, value, sizeof(value));
	ds_write(DS_GROUP, k->name, value, DS_MUST_CREATE, NULL, written, k);
	return true;
}

void ledger_close(const uint8_t hash[32], const struct credit *c)
{
	char name[65], value[128];
	struct credit closed = *c;
	closed.closed = true;
	hex_encode(hash, 32, name, sizeof(name));
	credit_format(&closed, value, sizeof(value));
	ds_put(DS_GROUP, name, value, NULL, NULL, NULL);
}

/* ---- pruning ---- */

static uint64_t prune_timer;
static bool pruning;

static void prune_entry(void *arg, const struct ds_entry *e)
{
	struct credit c;
	credit_parse(e->value, &c);
	if (c.expires && c.expires < (int64_t)time(NULL))
		ds_put(DS_GROUP, e->name, NULL, NULL, NULL, NULL);
}

static void prune(void *arg);

static void pruned(void *arg, const struct rpc_result *r)
{
	pruning = false;
	if (r->status != RPC_OK)
		plugin_log(LOG_UNUSUAL, "listing credits failed: %s", r->message);
}

static void prune(void *arg)
{
	prune_timer = loop_add_timer(PRUNE_EVERY_MS, prune, NULL);
	if (pruning || !rpc_connected())
		return;
	pruning = true;
	ds_list(DS_GROUP, prune_entry, pruned, NULL, NULL);
}

void ledger_start(void)
{
	if (!prune_timer)
		prune_timer = loop_add_timer(2000, prune, NULL);
}

void ledger_free(void)
{
	if (prune_timer)
		loop_cancel_timer(prune_timer);
	prune_timer = 0;
	pruning = false;
}
