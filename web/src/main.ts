import { createApp } from "vue";
import { createApi } from "./api/client";
import App from "./App.vue";
import { createAuth } from "./auth";
import { loadConfig } from "./config";
import { API, AUTH, CONFIG } from "./context";
import { currentLocale, i18n } from "./i18n";
import { createAppRouter } from "./router";
import "./styles.css";

async function start(): Promise<void> {
  document.documentElement.lang = currentLocale();
  const config = await loadConfig();
  const auth = createAuth(config);
  const router = createAppRouter(auth);
  const api = createApi({
    token: () => auth.accessToken(),
    // The session ended at the provider (or the token was refused): sign in and come back.
    onUnauthenticated: () => void auth.signIn(router.currentRoute.value.fullPath, currentLocale()),
  });
  createApp(App).provide(AUTH, auth).provide(API, api).provide(CONFIG, config).use(i18n).use(router).mount("#app");
}

void start();
