// Alby's @getalby/lightning-tools (the 402 helpers buyers reach for in
// JavaScript) against the plugin, with a wallet that pays through the
// node's own RPC (the double's dev-pay). tests/pytest/test_interop_alby.py
// drives it:
//   node alby_client.mjs HELPER URL RPC_SOCKET [CREDENTIAL_JSON]
//       HELPER: fetchWithL402 | fetch402 | fetchWithMpp
//       -> {"status", "body", "paid", "amountSat", "credentials", "receipt",
//           "paidInvoices"}
//   With CREDENTIAL_JSON (a {header, value} from an earlier answer) the
//   helper reuses it and never pays.
import net from 'node:net'
import { fetch402, fetchWithL402, fetchWithMpp } from '@getalby/lightning-tools/402'

const [helper, url, socketPath, reuse] = process.argv.slice(2)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

function rpc (method, params) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath)
    let buf = ''
    s.on('data', (d) => {
      buf += d
      try {
        const obj = JSON.parse(buf)
        s.end()
        if (obj.error) reject(new Error(JSON.stringify(obj.error)))
        else resolve(obj.result)
      } catch (e) { /* not whole yet */ }
    })
    s.on('error', reject)
    s.write(JSON.stringify({ jsonrpc: '2.0', id: 'alby:' + method, method, params }))
  })
}

const paidInvoices = []
const wallet = {
  payInvoice: async ({ invoice }) => {
    paidInvoices.push(invoice)
    const r = await rpc('dev-pay', { bolt11: invoice })
    return { preimage: r.payment_preimage }
  }
}
const helpers = { fetch402, fetchWithL402, fetchWithMpp }
const options = { wallet }
if (reuse) options.credentials = JSON.parse(reuse)
const res = await helpers[helper](url, {}, options)
const body = await res.text()
out({
  status: res.status,
  body,
  paid: res.payment ? res.payment.paid : false,
  amountSat: res.payment ? res.payment.amountSat : 0,
  credentials: res.payment ? res.payment.credentials : null,
  receipt: res.headers.get('payment-receipt'),
  paidInvoices
})
