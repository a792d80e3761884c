/* HTTPS for l402-bind=https://HOST:PORT: the certificate chain and key of
 * l402-tls-cert and l402-tls-key, handed to libmicrohttpd's GnuTLS per
 * handshake through a callback, so that l402-tls-reload can swap them
 * (certificates from ACME clients rotate) without a restart and without
 * dropping a connection. */
#ifndef L402_TLS_H
#define L402_TLS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_out;

/* Read and check both files (the key must match the chain's first
 * certificate); on success they serve every handshake from now on. On
 * failure, why says what is wrong and the credentials in use stay. */
bool tls_load(const char *cert_path, const char *key_path, char *why, size_t whylen);
bool tls_loaded(void);
/* The options an HTTPS daemon needs (ends with MHD_OPTION_END). */
const struct MHD_OptionItem *tls_daemon_options(void);
/* subject, not_after and when it was loaded, for l402-status. */
void tls_describe(struct json_out *j);
void tls_free(void);

#endif
