// Korean (the studio's language) first, English second; the choice is remembered on this device.
import { createI18n } from "vue-i18n";
import enCommon from "./locales/en/common.json";
import enErrors from "./locales/en/errors.json";
import enMember from "./locales/en/member.json";
import enStaff from "./locales/en/staff.json";
import koCommon from "./locales/ko/common.json";
import koErrors from "./locales/ko/errors.json";
import koMember from "./locales/ko/member.json";
import koStaff from "./locales/ko/staff.json";

export const LOCALES = ["ko", "en"] as const;
export type Locale = (typeof LOCALES)[number];
const STORAGE_KEY = "yoga.locale";

const messages = {
  ko: { ...koCommon, ...koErrors, ...koMember, ...koStaff },
  en: { ...enCommon, ...enErrors, ...enMember, ...enStaff },
};

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** The remembered choice, else Korean: the studio's language comes first. */
export function initialLocale(storage: Pick<Storage, "getItem"> | undefined): Locale {
  const saved = storage?.getItem(STORAGE_KEY);
  return isLocale(saved) ? saved : "ko";
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(typeof localStorage === "undefined" ? undefined : localStorage),
  fallbackLocale: "en",
  messages,
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(STORAGE_KEY, locale);
  document.documentElement.lang = locale;
}

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale;
}
