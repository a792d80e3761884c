/* Macaroons, byte-compatible with go-macaroon (aperture, LND, lnget) and
 * libmacaroons: v2 binary encode/decode, v1 binary and v2 JSON decode,
 * first- and third-party caveats, discharge binding and verification.
 *
 * Memory follows jsmn: a struct macaroon holds slices into memory the caller
 * owns (the decoded input, or scratch given to the decoder); nothing here
 * allocates. Sizes are capped so that no input can make us do unbounded work. */
#ifndef L402_MACAROON_H
#define L402_MACAROON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MACAROON_SIG_LEN 32
#define MACAROON_MAX_CAVEATS 32
#define MACAROON_MAX_SIZE 16384	/* serialised bytes we accept or emit */
#define MACAROON_MAX_DISCHARGES 8
#define MACAROON_NONCE_LEN 24
/* nonce || secretbox(32-byte key): 24 + 16 + 32 */
#define MACAROON_VID_LEN 72

struct mslice {
	const uint8_t *p;
	size_t len;
};

struct macaroon_caveat {
	struct mslice id;
	struct mslice vid;	/* empty for first-party caveats */
	struct mslice location;
};

struct macaroon {
	struct mslice location;
	struct mslice identifier;
	size_t ncaveats;
	struct macaroon_caveat caveats[MACAROON_MAX_CAVEATS];
	uint8_t sig[MACAROON_SIG_LEN];
};

enum macaroon_format { MACAROON_FMT_V1, MACAROON_FMT_V2, MACAROON_FMT_V2J };

enum macaroon_err {
	MACAROON_OK = 0,
	MACAROON_ERR_TRUNCATED,
	MACAROON_ERR_FORMAT,
	MACAROON_ERR_TOO_MANY_CAVEATS,
	MACAROON_ERR_TOO_LARGE,
	MACAROON_ERR_SIGNATURE,
	MACAROON_ERR_CAVEAT,
	MACAROON_ERR_DISCHARGE_MISSING,
	MACAROON_ERR_DISCHARGE_UNUSED,
	MACAROON_ERR_DECRYPT,
};

const char *macaroon_strerror(enum macaroon_err err);

static inline struct mslice mslice_str(const char *s);

/* A new macaroon: sig = HMAC(derive(root_key), identifier). The slices are
 * referenced, not copied. */
void macaroon_init(struct macaroon *m, const uint8_t *root_key, size_t keylen,
		   struct mslice identifier, struct mslice location);
enum macaroon_err macaroon_add_first_party(struct macaroon *m,
					   struct mslice caveat);
/* Third-party caveat for caveat_key (the discharger's root key). vid_buf is
 * caller storage the caveat keeps referencing. */
enum macaroon_err macaroon_add_third_party(struct macaroon *m,
					   const uint8_t *caveat_key,
					   size_t keylen, struct mslice cid,
					   struct mslice location,
					   uint8_t vid_buf[MACAROON_VID_LEN]);
/* Bind a discharge to the macaroon it discharges (before sending both). */
void macaroon_bind_discharge(const struct macaroon *root,
			     struct macaroon *discharge);

/* v2 binary. Returns bytes written, or 0 if out is too small or m is invalid. */
size_t macaroon_encode_v2(const struct macaroon *m, uint8_t *out, size_t cap);
size_t macaroon_encoded_len_v2(const struct macaroon *m);

enum macaroon_err macaroon_decode_v2(const uint8_t *in, size_t len,
				     struct macaroon *m);
/* v1 binary: the "NNNNkey value\n" packets (already base64-decoded). */
enum macaroon_err macaroon_decode_v1(const uint8_t *in, size_t len,
				     struct macaroon *m);
/* v2 JSON; decoded fields are written to scratch (at least len bytes). */
enum macaroon_err macaroon_decode_json(const char *in, size_t len,
				       uint8_t *scratch, size_t scratchcap,
				       struct macaroon *m);
/* Any serialisation: v2 binary (first byte 0x02), v2 JSON ('{'), or v1
 * (base64 text of packets). scratch must hold at least len bytes. */
enum macaroon_err macaroon_decode(const uint8_t *in, size_t len,
				  uint8_t *scratch, size_t scratchcap,
				  struct macaroon *m, enum macaroon_format *fmt);

/* Called for each first-party caveat of the macaroon and its discharges, in
 * verification order; returns false to refuse it. */
typedef bool (*macaroon_checker)(void *ctx, const uint8_t *caveat, size_t len);

/* go-macaroon's Verify: signature chain, caveats via check, each discharge
 * found by caveat id, used once, bound to m, and all of them used. */
enum macaroon_err macaroon_verify(const struct macaroon *m,
				  const uint8_t *root_key, size_t keylen,
				  const struct macaroon *discharges,
				  size_t ndischarges, macaroon_checker check,
				  void *ctx);

static inline struct mslice mslice_str(const char *s)
{
	struct mslice sl = { (const uint8_t *)s, 0 };
	while (s && s[sl.len])
		sl.len++;
	return sl;
}

#endif
