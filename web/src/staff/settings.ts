// The studio's settings as the settings page edits them: each one's unit (the label says it)
// and the server's upper bound (yogaclass_svc/studio.py), so the input refuses what the server
// would. Counts are plain numbers; the rest are durations.
import type { DurationUnit } from "./durations";

export type SettingName =
  | "waitlistCutoff"
  | "cancellationWindow"
  | "checkInOpens"
  | "noShowGrace"
  | "strikeLimit"
  | "strikePeriod"
  | "blockDuration"
  | "bookingLimit"
  | "reminderLead"
  | "seriesHorizon";

export interface SettingSpec {
  name: SettingName;
  unit: DurationUnit | "count";
  /** The largest value the server takes: seconds for durations, the number for counts. */
  max: number;
  /** The smallest, when more than 0. */
  min?: number;
  group: "booking" | "strikes" | "timetable";
}

const DAY = 86_400;

export const SETTINGS: SettingSpec[] = [
  { name: "cancellationWindow", unit: "hours", max: 7 * DAY, group: "booking" },
  { name: "waitlistCutoff", unit: "hours", max: 7 * DAY, group: "booking" },
  { name: "checkInOpens", unit: "minutes", max: DAY, group: "booking" },
  { name: "noShowGrace", unit: "minutes", max: DAY, group: "booking" },
  { name: "bookingLimit", unit: "count", max: 1000, group: "booking" },
  { name: "strikeLimit", unit: "count", max: 1000, group: "strikes" },
  { name: "strikePeriod", unit: "days", max: 365 * DAY, group: "strikes" },
  { name: "blockDuration", unit: "days", max: 365 * DAY, group: "strikes" },
  { name: "reminderLead", unit: "hours", max: 7 * DAY, group: "timetable" },
  { name: "seriesHorizon", unit: "days", max: 182 * DAY, min: DAY, group: "timetable" },
];
