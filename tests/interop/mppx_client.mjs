// The Payment scheme's side of a client, done by mppx (the scheme's
// reference TypeScript library), so that our challenges, credentials,
// receipts and discovery documents are read and written by code that is
// not ours. tests/pytest/test_interop_mppx.py drives it:
//   node mppx_client.mjs challenge URL [ACCEPT_PAYMENT]
//       -> {"status", "challenges": [...], "wwwAuthenticate"}
//   node mppx_client.mjs pay URL WWW_AUTHENTICATE PREIMAGE
//       -> {"status", "body", "receipt"} (the credential made by mppx)
//   node mppx_client.mjs open URL WWW_AUTHENTICATE PREIMAGE RETURN_INVOICE
//       -> the same, opening a lightning session (draft-lightning-session)
//   node mppx_client.mjs discovery URL
//       -> {"valid", "errors"} from mppx/discovery's validator
import { Challenge, Credential, Receipt } from 'mppx'
import * as Discovery from 'mppx/discovery'

const [cmd, url, ...rest] = process.argv.slice(2)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

if (cmd === 'challenge') {
  const headers = rest[0] ? { 'Accept-Payment': rest[0] } : {}
  const res = await fetch(url, { headers })
  let challenges = []
  try {
    challenges = Challenge.fromResponseList(res)
  } catch (e) {
    challenges = []
  }
  out({ status: res.status, challenges, wwwAuthenticate: res.headers.get('www-authenticate') })
} else if (cmd === 'pay') {
  const [www, preimage] = rest
  const challenge = Challenge.deserializeList(www).find(
    (c) => c.method === 'lightning' && c.intent === 'charge')
  const authorization = Credential.serialize(Credential.from({ challenge, payload: { preimage } }))
  const res = await fetch(url, { headers: { Authorization: authorization } })
  const body = await res.text()
  let receipt = null
  if (res.status === 200) receipt = Receipt.fromResponse(res)
  out({ status: res.status, body, receipt, authorization })
} else if (cmd === 'open') {
  const [www, preimage, returnInvoice] = rest
  const challenge = Challenge.deserializeList(www).find(
    (c) => c.method === 'lightning' && c.intent === 'session')
  const authorization = Credential.serialize(Credential.from({
    challenge, payload: { action: 'open', preimage, returnInvoice } }))
  const res = await fetch(url, { headers: { Authorization: authorization } })
  const body = await res.text()
  let receipt = null
  if (res.status === 200) receipt = Receipt.fromResponse(res)
  out({ status: res.status, body, receipt, challenge })
} else if (cmd === 'discovery') {
  const res = await fetch(url)
  const doc = await res.json()
  const result = Discovery.validate(doc)
  out({ status: res.status, result })
} else {
  process.stderr.write('usage: mppx_client.mjs challenge|pay|discovery URL ...\n')
  process.exit(2)
}
