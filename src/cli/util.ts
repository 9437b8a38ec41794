/** Small helpers shared by the command-line entry points. */
export type Logger = (line: string) => void

/** A logger that prefixes each line with the time and a tag. */
export const logger =
  (tag: string, quiet = false): Logger =>
  (line) => {
    if (!quiet) process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${tag} ${line}\n`)
  }

/** "127.0.0.1:8080" or "8080" → host and port (host defaults to 127.0.0.1). */
export function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  const host = i >= 0 ? s.slice(0, i) : '127.0.0.1'
  const port = Number(i >= 0 ? s.slice(i + 1) : s)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`bad address "${s}": expected HOST:PORT`)
  return { host: host || '127.0.0.1', port }
}

export const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '::1' || h === '[::1]' || h.startsWith('127.')

/** Resolves once SIGINT or SIGTERM arrived and `stop` finished (a second signal exits at once). */
export function onShutdown(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const handler = (): void => {
      if (stopping) process.exit(130)
      stopping = true
      stop().then(resolve, (e: unknown) => {
        process.stderr.write(`error while stopping: ${e instanceof Error ? e.message : String(e)}\n`)
        process.exitCode = 1
        resolve()
      })
    }
    process.once('SIGINT', handler)
    process.once('SIGTERM', handler)
  })
}
