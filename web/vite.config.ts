import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig, type Plugin } from "vitest/config";

// The OpenAPI document of the JSON API (generated from the protos, gen/openapi/) ships with the
// app, so the static server answers GET /v1/openapi.json beside the pages that use it.
const openapi = fileURLToPath(new URL("../gen/openapi/yoga.openapi.json", import.meta.url));

function shipOpenApi(): Plugin {
  return {
    name: "ship-openapi",
    apply: "build",
    writeBundle(options) {
      const dir = `${options.dir}/v1`;
      mkdirSync(dir, { recursive: true });
      copyFileSync(openapi, `${dir}/openapi.json`);
    },
  };
}

export default defineConfig({
  plugins: [vue(), shipOpenApi()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    target: "es2022",
    // The budget is 200 KB of gzipped JavaScript on the first load (tests/e2e measure it).
    chunkSizeWarningLimit: 300,
    sourcemap: false,
  },
  define: {
    // vue-i18n: messages are compiled at build time, no runtime compiler (CSP forbids eval).
    __INTLIFY_JIT_COMPILATION__: true,
    __INTLIFY_DROP_MESSAGE_COMPILER__: false,
    __VUE_OPTIONS_API__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
  },
});
