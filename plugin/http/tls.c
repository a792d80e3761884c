/* The certificates behind tls.h. GnuTLS asks for the credentials at each
 * handshake (tls_retrieve); a reload makes a new set and makes it current.
 * The set a handshake was given must outlive that handshake, so replaced
 * sets are kept a while (RETIRE_SECONDS) before they are freed: a reload
 * frees only sets retired long ago, and refuses when too many are still
 * young, so memory stays bounded however often reloads come. */
#include "http/tls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"

#define MAX_CHAIN 8
#define MAX_PEM_BYTES (1024 * 1024)
#define MAX_RETIRED 8
#define RETIRE_SECONDS 60

struct tls_cred {
	gnutls_pcert_st pcert[MAX_CHAIN];
	unsigned int n;
	gnutls_privkey_t key;
	char subject[256];
	int64_t not_after, loaded_at, retired_at;
};

/* The certificates' lock: guards current and retired[], read by GnuTLS's
 * handshakes on libmicrohttpd's threads and swapped by l402-tls-reload on
 * the loop. A leaf. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_cred *current;
static struct tls_cred *retired[MAX_RETIRED];

static void cred_free(struct tls_cred *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* A whole file, at most MAX_PEM_BYTES; NULL with why. */
static bool read_file(const char *what, const char *path, gnutls_datum_t *out, char *why,
		      size_t whylen)
{
	FILE *f = fopen(path, "rb");
	out->data = NULL;
	out->size = 0;
	if (!f) {
		snprintf(why, whylen, "%s %s: cannot be read", what, path);
		return false;
	}
	unsigned char *buf = malloc(MAX_PEM_BYTES + 1);
	size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (!buf || err || n == 0 || n > MAX_PEM_BYTES) {
		snprintf(why, whylen, "%s %s: %s", what, path,
			 !buf ? "out of memory" : err ? "cannot be read" : n == 0 ? "is empty"
											: "is larger than 1 MiB");
		free(buf);
		return false;
	}
	out->data = buf;
	out->size = (unsigned int)n;
	return true;
}

static void datum_wipe(gnutls_datum_t *d)
{
	if (d->data) {
		memset(d->data, 0, d->size);
		free(d->data);
	}
	d->data = NULL;
}

/* Whether the key is the one the first certificate names. */
static bool key_matches(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
	gnutls_pubkey_t pub;
	gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };
	bool same = false;
	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0
	    && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) >= 0
	    && gnutls_pubkey_export2(leaf->pubkey, GNUTLS_X509_FMT_DER, &b) >= 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	return same;
}

static void describe_leaf(struct tls_cred *c)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };
	if (gnutls_pcert_export_x509(&c->pcert[0], &crt) < 0)
		return;
	c->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	if (gnutls_x509_crt_get_dn2(crt, &dn) >= 0)
		snprintf(c->subject, sizeof(c->subject), "%.*s", (int)dn.size, (const char *)dn.data);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}

static struct tls_cred *cred_load(const char *cert_path, const char *key_path, char *why,
				  size_t whylen)
{
	gnutls_datum_t cert, key;
	struct tls_cred *c = calloc(1, sizeof(*c));
	int rc;
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (!read_file("l402-tls-cert", cert_path, &cert, why, whylen)) {
		free(c);
		return NULL;
	}
	if (!read_file("l402-tls-key", key_path, &key, why, whylen)) {
		datum_wipe(&cert);
		free(c);
		return NULL;
	}
	c->n = MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(c->pcert, &c->n, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		c->n = 0;
		snprintf(why, whylen, "l402-tls-cert %s: not a PEM certificate chain of at most %d (%s)",
			 cert_path, MAX_CHAIN, gnutls_strerror(rc));
	} else if ((rc = gnutls_privkey_init(&c->key)) < 0
		   || (rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL,
							     0)) < 0) {
		snprintf(why, whylen, "l402-tls-key %s: not an unencrypted PEM private key (%s)",
			 key_path, gnutls_strerror(rc));
	} else if (!key_matches(&c->pcert[0], c->key)) {
		snprintf(why, whylen, "l402-tls-key %s does not match the certificate in %s",
			 key_path, cert_path);
		rc = -1;
	}
	datum_wipe(&cert);
	datum_wipe(&key);
	if (rc < 0) {
		cred_free(c);
		return NULL;
	}
	describe_leaf(c);
	c->loaded_at = (int64_t)time(NULL);
	return c;
}

/* Room among the retired sets for one more, freeing the old ones. */
static bool retire(struct tls_cred *c, int64_t now)
{
	int free_slot = -1;
	if (!c)
		return true;
	for (int i = 0; i < MAX_RETIRED; i++) {
		if (retired[i] && now - retired[i]->retired_at > RETIRE_SECONDS) {
			cred_free(retired[i]);
			retired[i] = NULL;
		}
		if (!retired[i] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return false;
	c->retired_at = now;
	retired[free_slot] = c;
	return true;
}

bool tls_load(const char *cert_path, const char *key_path, char *why, size_t whylen)
{
	struct tls_cred *c = cred_load(cert_path, key_path, why, whylen);
	if (!c)
		return false;
	pthread_mutex_lock(&lock);
	bool ok = retire(current, (int64_t)time(NULL));
	if (ok)
		current = c;
	pthread_mutex_unlock(&lock);
	if (!ok) {
		snprintf(why, whylen, "reloaded too often: retry in a minute");
		cred_free(c);
	}
	return ok;
}

bool tls_loaded(void)
{
	pthread_mutex_lock(&lock);
	bool loaded = current != NULL;
	pthread_mutex_unlock(&lock);
	return loaded;
}

/* GnuTLS, in libmicrohttpd's threads, at each handshake. */
static int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
			const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			gnutls_pcert_st **pcert, unsigned int *pcert_length,
			gnutls_privkey_t *privkey)
{
	pthread_mutex_lock(&lock);
	struct tls_cred *c = current;
	if (c) {
		*pcert = c->pcert;
		*pcert_length = c->n;
		*privkey = c->key;
	}
	pthread_mutex_unlock(&lock);
	return c ? 0 : -1;
}

const struct MHD_OptionItem *tls_daemon_options(void)
{
	static const struct MHD_OptionItem items[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_retrieve },
		{ MHD_OPTION_END, 0, NULL },
	};
	return items;
}

void tls_describe(struct json_out *j)
{
	pthread_mutex_lock(&lock);
	if (current) {
		json_object_start(j, "tls");
		json_add_string(j, "subject", current->subject);
		json_add_s64(j, "not_after", current->not_after);
		json_add_s64(j, "loaded_at", current->loaded_at);
		json_object_end(j);
	}
	pthread_mutex_unlock(&lock);
}

void tls_free(void)
{
	pthread_mutex_lock(&lock);
	cred_free(current);
	current = NULL;
	for (int i = 0; i < MAX_RETIRED; i++) {
		cred_free(retired[i]);
		retired[i] = NULL;
	}
	pthread_mutex_unlock(&lock);
}
