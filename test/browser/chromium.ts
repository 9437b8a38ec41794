/**
 * Debian's Chromium for the browser suites (DESIGN.md section 6). Playwright cannot download a
 * browser here, so every suite launches `/usr/bin/chromium` (or `CHROMIUM_PATH`) with the flags that
 * make WebRTC work on loopback. A missing browser is an error, never a skip: CI installs it.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type LaunchOptions } from 'playwright-core'

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Flags: loopback host candidates visible (no mDNS names), no sandbox or GPU, nothing phoning home. */
export const chromiumArgs = [
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]

export function launchOptions(): LaunchOptions {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`)
  }
  return { executablePath: chromiumPath, headless: true, args: chromiumArgs }
}

/** Launches headless Chromium; fails loudly when it is missing. */
export const launchChromium = (): Promise<Browser> => chromium.launch(launchOptions())
