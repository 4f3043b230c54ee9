// Sign-in with the studio's OpenID Connect provider: authorization code + PKCE (oidc-client-ts),
// tokens renewed in the background with the refresh token, and the page the user was on kept
// across the round trip to the provider.
import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import { computed, shallowRef, type ComputedRef, type ShallowRef } from "vue";
import type { AppConfig } from "./config";

export const STAFF_ROLE = "admin";

export interface Auth {
  user: ShallowRef<User | null>;
  signedIn: ComputedRef<boolean>;
  /** The member's id at the API: the token's `sub`. */
  userId: ComputedRef<string>;
  roles: ComputedRef<string[]>;
  isStaff: ComputedRef<boolean>;
  /** Goes to the provider's sign-in page; back at `returnTo` (a path of this app) after. */
  signIn(returnTo?: string, locale?: string): Promise<void>;
  /** The provider's registration page, then back signed in. */
  signUp(returnTo?: string, locale?: string): Promise<void>;
  signOut(): Promise<void>;
  /** Finishes a sign-in on /callback: the path to go back to. */
  completeSignIn(): Promise<string>;
  /** A valid access token, renewed first if it has expired; null when signed out. */
  accessToken(): Promise<string | null>;
}

interface ReturnState {
  returnTo: string;
}

/** The realm roles an access token carries (Keycloak: realm_access.roles). */
export function rolesOf(accessToken: string | undefined): string[] {
  if (!accessToken) return [];
  const payload = accessToken.split(".")[1];
  if (!payload) return [];
  try {
    const text = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(text) as { realm_access?: { roles?: unknown } };
    const roles = claims.realm_access?.roles;
    return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [];
  } catch {
    return [];
  }
}

/** Only a path of this app may be a return target (never another origin). */
export function safeReturn(path: string | undefined): string {
  if (!path || !path.startsWith("/") || path.startsWith("//") || path.startsWith("/callback")) {
    return "/";
  }
  return path;
}

export function createAuth(config: AppConfig, origin = window.location.origin): Auth {
  const manager = new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: `${origin}/callback`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: "code",
    scope: "openid profile email",
    // Renewed with the refresh token before expiry; a tab reopened later still has its session.
    automaticSilentRenew: true,
    userStore: new WebStorageStateStore({ store: window.localStorage }),
  });
  const user = shallowRef<User | null>(null);
  manager.events.addUserLoaded((u) => {
    user.value = u;
  });
  manager.events.addUserUnloaded(() => {
    user.value = null;
  });
  manager.events.addSilentRenewError(() => {
    user.value = null;
  });
  // A stored session counts while its token is valid or a refresh token can renew it.
  void manager.getUser().then((u) => {
    user.value = u && (!u.expired || u.refresh_token) ? u : null;
  });

  const roles = computed(() => rolesOf(user.value?.access_token));
  const redirect = (returnTo: string | undefined, extra: Record<string, string>) =>
    manager.signinRedirect({
      state: { returnTo: safeReturn(returnTo) } satisfies ReturnState,
      extraQueryParams: extra,
    });

  return {
    user,
    signedIn: computed(() => user.value !== null),
    userId: computed(() => user.value?.profile.sub ?? ""),
    roles,
    isStaff: computed(() => roles.value.includes(STAFF_ROLE)),
    signIn: (returnTo, locale) => redirect(returnTo, locale ? { ui_locales: locale } : {}),
    signUp: (returnTo, locale) =>
      redirect(returnTo, { prompt: "create", ...(locale ? { ui_locales: locale } : {}) }),
    signOut: async () => {
      const current = user.value;
      await manager.removeUser();
      await manager.signoutRedirect({ id_token_hint: current?.id_token });
    },
    completeSignIn: async () => {
      const signed = await manager.signinRedirectCallback();
      user.value = signed;
      return safeReturn((signed.state as ReturnState | undefined)?.returnTo);
    },
    accessToken: async () => {
      let current = user.value ?? (await manager.getUser());
      if (current && current.expired) {
        try {
          current = await manager.signinSilent();
        } catch {
          current = null;
        }
      }
      user.value = current;
      return current?.access_token ?? null;
    },
  };
}
