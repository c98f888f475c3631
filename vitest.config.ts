import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing outside the process; `integration` runs against the real
// Cassandra and MinIO that test/support/global-setup.ts finds or starts (never mocks).
export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // A worker that just closed driver connections can take more than the default 10 s to exit on
    // a busy 2-core machine; vitest then reports a termination timeout although every test passed.
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Property tests run thousands of cases; on a busy 2-core machine (CI runs them beside
          // Cassandra) the 5 s default cut them off although they were passing.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Two cores shared with Cassandra and MinIO: one integration file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
