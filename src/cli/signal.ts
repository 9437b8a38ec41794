/** `dynamesh signal`: the WebSocket signaling server (rooms, peer announce, relay of offers). */
import { parseArgs } from 'node:util'
import { startSignalServer } from '../../signaling/server.js'
import { hexBytes } from '../credential.js'
import { onShutdown, type Logger } from './util.js'

export const SIGNAL_USAGE = `usage: dynamesh signal [--host 127.0.0.1] [--port 4444] [--cluster-key HEX]
  --cluster-key HEX  public key of a closed cluster: only peers with a credential it signed may join`

export async function runSignal(argv: string[], log: Logger): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '4444' }, 'cluster-key': { type: 'string' } },
  })
  const clusterKey = a['cluster-key'] ? hexBytes(a['cluster-key'], 32, '--cluster-key') : undefined
  const server = await startSignalServer({ host: a.host, port: Number(a.port), log, ...(clusterKey ? { clusterKey } : {}) })
  log(`signaling on ${server.url}`)
  process.stdout.write(`READY ${JSON.stringify({ url: server.url, port: server.port })}\n`)
  await onShutdown(() => server.close())
  return 0
}
