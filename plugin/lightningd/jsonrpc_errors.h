/* The error codes lightningd answers with, named as Core Lightning's
 * common/jsonrpc_errors.h names them, so that a condition on one reads as
 * what it means. Only the ones this plugin looks at or sends. */
#ifndef L402_JSONRPC_ERRORS_H
#define L402_JSONRPC_ERRORS_H

/* JSON-RPC 2.0 itself. */
#define JSONRPC2_INVALID_REQUEST -32600
#define JSONRPC2_METHOD_NOT_FOUND -32601
#define JSONRPC2_INVALID_PARAMS -32602

/* invoice, waitanyinvoice, delinvoice. */
#define INVOICE_WAIT_TIMED_OUT 904
#define INVOICE_NOT_FOUND 905
#define INVOICE_STATUS_UNEXPECTED 906

/* datastore, deldatastore. */
#define DATASTORE_DEL_DOES_NOT_EXIST 1200
#define DATASTORE_UPDATE_ALREADY_EXISTS 1202
#define DATASTORE_UPDATE_WRONG_GENERATION 1204

#endif
