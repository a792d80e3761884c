/* Logging through lightningd's `log` notification: the only thing besides
 * protocol replies that may go to stdout. Never pass secrets here. */
#ifndef L402_LOG_H
#define L402_LOG_H

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_UNUSUAL, LOG_BROKEN };

void plugin_log(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
