/**
 * The in-page browser suites (`*.browser.test.ts`): vitest runs them inside Debian's Chromium
 * (test/browser/chromium.ts), so the shared Storage suite runs against real IndexedDB.
 */
import { playwright } from '@vitest/browser-playwright'
import { defineConfig } from 'vitest/config'
import { launchOptions } from './test/browser/chromium.js'

export default defineConfig({
  server: { host: '127.0.0.1' },
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    testTimeout: 60_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({ launchOptions: launchOptions() }),
      instances: [{ browser: 'chromium' }],
      api: { host: '127.0.0.1' },
    },
  },
})
