#include "qr_svg.h"

#include <qrencode.h>

#define QUIET 4

bool qr_svg(struct strbuf *sb, const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return false;
	int w = q->width, side = w + 2 * QUIET;
	strbuf_printf(sb,
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		      "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">"
		      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
		      side, side, side, side);
	/* One horizontal run of dark modules per rectangle. */
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w;) {
			if (!(q->data[y * w + x] & 1)) {
				x++;
				continue;
			}
			int run = 1;
			while (x + run < w && (q->data[y * w + x + run] & 1))
				run++;
			strbuf_printf(sb, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, run, run);
			x += run;
		}
	}
	strbuf_puts(sb, "\"/></svg>");
	QRcode_free(q);
	return !sb->failed;
}
