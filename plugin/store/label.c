#include "store/label.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

bool label_is_ours(const char *label)
{
	return strncmp(label, L402_LABEL_PREFIX, strlen(L402_LABEL_PREFIX)) == 0;
}

bool label_make(char *out, size_t len, const struct invoice_label *l)
{
	char hex[65], kind[32] = "";
	hex_encode(l->token_id, 32, hex, sizeof(hex));
	if (l->charge)
		snprintf(kind, sizeof(kind), "-charge");
	else if (l->session)
		snprintf(kind, sizeof(kind), "-session");
	else if (l->balance_msat)
		snprintf(kind, sizeof(kind), "-b%llu", (unsigned long long)l->balance_msat);
	return (size_t)snprintf(out, len, L402_LABEL_PREFIX "%.8s-%lld-%llu-%s%s", l->tag,
				(long long)l->valid_until, (unsigned long long)l->uses, hex,
				kind) < len;
}

bool label_parse(const char *label, struct invoice_label *l)
{
	const char *p = label + strlen(L402_LABEL_PREFIX);
	char *end;
	size_t n;
	if (!label_is_ours(label) || strlen(p) < 9 || p[8] != '-')
		return false;
	memcpy(l->tag, p, 8);
	l->tag[8] = '\0';
	p += 9;
	l->valid_until = strtoll(p, &end, 10);
	if (end == p || *end != '-')
		return false;
	p = end + 1;
	l->uses = strtoull(p, &end, 10);
	if (end == p || *end != '-')
		return false;
	p = end + 1;
	if (strnlen(p, 65) < 64 || !hex_decode(p, 64, l->token_id, 32, &n))
		return false;
	const char *kind = p + 64;
	l->charge = strcmp(kind, "-charge") == 0;
	l->session = strcmp(kind, "-session") == 0;
	l->balance_msat = 0;
	if (strncmp(kind, "-b", 2) == 0 && kind[2] >= '1' && kind[2] <= '9'
	    && strspn(kind + 2, "0123456789") == strlen(kind + 2) && strlen(kind + 2) <= 19)
		l->balance_msat = strtoull(kind + 2, NULL, 10);
	return !*kind || l->charge || l->session || l->balance_msat;
}
