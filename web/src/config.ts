// What differs between deployments, read at start from /config.json (written by the static
// server's deployment, never built into the assets), so one build runs everywhere.
export interface AppConfig {
  /** The OpenID Connect issuer (Keycloak realm URL). */
  issuer: string;
  /** The public client of the web app at the issuer. */
  clientId: string;
  /** The studio's IANA time zone: the timetable's weeks and times are in it. */
  timeZone: string;
}

export const DEFAULT_TIME_ZONE = "Asia/Seoul";

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<AppConfig> {
  const answer = await fetcher("/config.json", { cache: "no-cache" });
  if (!answer.ok) throw new Error(`/config.json: HTTP ${answer.status}`);
  const config = (await answer.json()) as Partial<AppConfig>;
  if (!config.issuer || !config.clientId) throw new Error("/config.json lacks issuer or clientId");
  return {
    issuer: config.issuer,
    clientId: config.clientId,
    timeZone: config.timeZone || DEFAULT_TIME_ZONE,
  };
}
