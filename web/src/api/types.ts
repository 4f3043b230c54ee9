// The API's shapes, generated from the protos (gen/openapi/yoga.openapi.json ->
// schema.d.ts by `npm run gen:api`); never written by hand.
import type { components } from "./schema";

type S = components["schemas"];

export type YogaClass = S["yoga.yogaclass.v1.YogaClass"];
export type ClassSeries = S["yoga.yogaclass.v1.ClassSeries"];
export type StudioSettings = S["yoga.yogaclass.v1.StudioSettings"];
export type MemberStanding = S["yoga.yogaclass.v1.MemberStanding"];
export type ListClassesResponse = S["yoga.yogaclass.v1.ListClassesResponse"];
export type ListSeriesResponse = S["yoga.yogaclass.v1.ListSeriesResponse"];
export type Reservation = S["yoga.reservation.v1.Reservation"];
export type ListReservationsResponse = S["yoga.reservation.v1.ListReservationsResponse"];
export type CreateReservationResponse = S["yoga.reservation.v1.CreateReservationResponse"];
export type GetRosterResponse = S["yoga.reservation.v1.GetRosterResponse"];
export type MyPageEntry = S["yoga.mypage.v1.MyPageEntry"];
export type GetMyPageResponse = S["yoga.mypage.v1.GetMyPageResponse"];
export type Notification = S["yoga.notification.v1.Notification"];
export type ListNotificationsResponse = S["yoga.notification.v1.ListNotificationsResponse"];

export type ReservationStatus = NonNullable<Reservation["status"]>;
export type NotificationKind = NonNullable<Notification["kind"]>;
