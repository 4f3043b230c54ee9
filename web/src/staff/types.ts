// The API's shapes the staff pages use, from the generated schema (npm run gen:api).
import type { components } from "../api/schema";

type S = components["schemas"];

export type YogaClass = S["yoga.yogaclass.v1.YogaClass"];
export type ClassSeries = S["yoga.yogaclass.v1.ClassSeries"];
export type StudioSettings = S["yoga.yogaclass.v1.StudioSettings"];
export type MemberStanding = S["yoga.yogaclass.v1.MemberStanding"];
export type Reservation = S["yoga.reservation.v1.Reservation"];

export type ListClassesResponse = S["yoga.yogaclass.v1.ListClassesResponse"];
export type GetClassResponse = S["yoga.yogaclass.v1.GetClassResponse"];
export type CreateClassResponse = S["yoga.yogaclass.v1.CreateClassResponse"];
export type UpdateClassResponse = S["yoga.yogaclass.v1.UpdateClassResponse"];
export type DeleteClassResponse = S["yoga.yogaclass.v1.DeleteClassResponse"];
export type ListSeriesResponse = S["yoga.yogaclass.v1.ListSeriesResponse"];
export type GetSeriesResponse = S["yoga.yogaclass.v1.GetSeriesResponse"];
export type CreateSeriesResponse = S["yoga.yogaclass.v1.CreateSeriesResponse"];
export type UpdateSeriesResponse = S["yoga.yogaclass.v1.UpdateSeriesResponse"];
export type CancelSeriesResponse = S["yoga.yogaclass.v1.CancelSeriesResponse"];
export type GetStudioSettingsResponse = S["yoga.yogaclass.v1.GetStudioSettingsResponse"];
export type UpdateStudioSettingsResponse = S["yoga.yogaclass.v1.UpdateStudioSettingsResponse"];
export type GetMemberStandingResponse = S["yoga.yogaclass.v1.GetMemberStandingResponse"];
export type LiftBlockResponse = S["yoga.yogaclass.v1.LiftBlockResponse"];
export type GetRosterResponse = S["yoga.reservation.v1.GetRosterResponse"];
export type CheckInResponse = S["yoga.reservation.v1.CheckInResponse"];

export type ReservationStatus = NonNullable<Reservation["status"]>;
export type ClassStatus = NonNullable<YogaClass["status"]>;
export type SeriesStatus = NonNullable<ClassSeries["status"]>;

/** "RESERVATION_STATUS_CONFIRMED" → "CONFIRMED": the i18n key's last part. */
export function enumSuffix(value: string | undefined, prefix: string): string {
  if (!value) return "UNSPECIFIED";
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}
