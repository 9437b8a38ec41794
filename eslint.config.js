import tseslint from 'typescript-eslint'

const platformBan = {
  paths: ['fs', 'path', 'os', 'crypto', 'net', 'http', 'child_process', 'worker_threads', 'ws', 'level',
    'classic-level', 'idb', 'simple-peer', 'node-datachannel', 'node-datachannel/polyfill'].map((name) => ({ name, message: 'src/core is pure: platform and adapter code comes in through interfaces.' })),
  patterns: [
    { group: ['node:*'], message: 'src/core must not import Node built-ins.' },
    { group: ['../storage/*', '../transport/*', '../node/*', '../sim/*', '../cli/*', '../http/*'], message: 'src/core must not import adapters.' },
  ],
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'web/dist/**', '.stryker-tmp/**', 'reports/**', 'test-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', platformBan],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use env.setTimer.' },
        { name: 'setInterval', message: 'Use env.setTimer.' },
        { name: 'setImmediate', message: 'Use env.setTimer.' },
        { name: 'crypto', message: 'Use core/hash.' },
        { name: 'window', message: 'No DOM in src/core.' },
        { name: 'document', message: 'No DOM in src/core.' },
        { name: 'indexedDB', message: 'No DOM in src/core.' },
        { name: 'process', message: 'No Node globals in src/core.' },
        { name: 'Buffer', message: 'Use Uint8Array.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use env.now().' },
        { object: 'Math', property: 'random', message: 'Use env.random().' },
        { object: 'performance', property: 'now', message: 'Use env.now().' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'Use env.now().' }],
    },
  },
)
