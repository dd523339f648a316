import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
          root: "packages/core",
          include: ["test/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "runtime",
          root: "packages/runtime",
          include: ["test/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "examples",
          root: "examples",
          include: ["*/test/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "bench",
          root: "bench",
          include: ["test/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "docs",
          root: "docs",
          include: ["test/**/*.test.ts"]
        }
      }
    ]
  }
})
