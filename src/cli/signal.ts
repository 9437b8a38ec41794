/** `dynamesh signal`: the WebSocket signaling server (rooms, peer announce, relay of offers). */
import { parseArgs } from 'node:util'
import { startSignalServer } from '../../signaling/server.js'
import { onShutdown, type Logger } from './util.js'

export const SIGNAL_USAGE = 'usage: dynamesh signal [--host 127.0.0.1] [--port 4444]'

export async function runSignal(argv: string[], log: Logger): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '4444' } },
  })
  const server = await startSignalServer({ host: a.host, port: Number(a.port), log })
  log(`signaling on ${server.url}`)
  process.stdout.write(`READY ${JSON.stringify({ url: server.url, port: server.port })}\n`)
  await onShutdown(() => server.close())
  return 0
}
