/* A QR code as an SVG image, drawn here from libqrencode's modules: no
 * request to anyone, nothing for a browser to fetch. */
#ifndef L402_QR_SVG_H
#define L402_QR_SVG_H

#include <stdbool.h>

#include "strbuf.h"

/* text (a "LIGHTNING:LNBC..." URI: upper case keeps it in QR's
 * alphanumeric mode, a smaller code) as an SVG element appended to sb,
 * error correction level M, a quiet zone of 4 modules. False when it does
 * not fit a QR code or sb failed. */
bool qr_svg(struct strbuf *sb, const char *text);

#endif
