// Pages. Each view is its own chunk, so the first load carries only the timetable's code.
// `meta.auth`: signed-in users only; `meta.staff`: the studio's staff only.
import { createRouter, createWebHistory, type Router } from "vue-router";
import type { Auth } from "./auth";
import { currentLocale } from "./i18n";
import TimetableView from "./views/member/TimetableView.vue";

declare module "vue-router" {
  interface RouteMeta {
    auth?: boolean;
    staff?: boolean;
    /** The i18n key of the page's title (document.title). */
    title?: string;
  }
}

export function createAppRouter(auth: Auth): Router {
  const router = createRouter({
    history: createWebHistory(),
    routes: [
      { path: "/", name: "timetable", component: TimetableView, meta: { title: "nav.timetable" } },
      {
        path: "/classes/:classId",
        name: "class",
        component: () => import("./views/member/ClassView.vue"),
        props: true,
        meta: { auth: true, title: "nav.timetable" },
      },
      {
        path: "/me",
        name: "mypage",
        component: () => import("./views/member/MyPageView.vue"),
        meta: { auth: true, title: "nav.mypage" },
      },
      {
        path: "/notifications",
        name: "notifications",
        component: () => import("./views/member/NotificationsView.vue"),
        meta: { auth: true, title: "nav.notifications" },
      },
      {
        path: "/staff/classes",
        name: "staff-classes",
        component: () => import("./views/staff/StaffClassesView.vue"),
        meta: { auth: true, staff: true, title: "nav.staffClasses" },
      },
      {
        path: "/staff/classes/new",
        name: "staff-class-new",
        component: () => import("./views/staff/ClassFormView.vue"),
        meta: { auth: true, staff: true, title: "nav.staffClasses" },
      },
      {
        path: "/staff/classes/:classId/edit",
        name: "staff-class-edit",
        component: () => import("./views/staff/ClassFormView.vue"),
        props: true,
        meta: { auth: true, staff: true, title: "nav.staffClasses" },
      },
      {
        path: "/staff/classes/:classId/roster",
        name: "staff-roster",
        component: () => import("./views/staff/RosterView.vue"),
        props: true,
        meta: { auth: true, staff: true, title: "nav.staffClasses" },
      },
      {
        path: "/staff/series",
        name: "staff-series",
        component: () => import("./views/staff/SeriesListView.vue"),
        meta: { auth: true, staff: true, title: "nav.staffSeries" },
      },
      {
        path: "/staff/series/new",
        name: "staff-series-new",
        component: () => import("./views/staff/SeriesFormView.vue"),
        meta: { auth: true, staff: true, title: "nav.staffSeries" },
      },
      {
        path: "/staff/series/:seriesId/edit",
        name: "staff-series-edit",
        component: () => import("./views/staff/SeriesFormView.vue"),
        props: true,
        meta: { auth: true, staff: true, title: "nav.staffSeries" },
      },
      {
        path: "/staff/members/:userId?",
        name: "staff-member",
        component: () => import("./views/staff/MemberStandingView.vue"),
        props: true,
        meta: { auth: true, staff: true, title: "nav.staffMembers" },
      },
      {
        path: "/staff/settings",
        name: "staff-settings",
        component: () => import("./views/staff/SettingsView.vue"),
        meta: { auth: true, staff: true, title: "nav.staffSettings" },
      },
      {
        path: "/callback",
        name: "callback",
        component: () => import("./views/CallbackView.vue"),
      },
      {
        path: "/:rest(.*)*",
        name: "not-found",
        component: () => import("./views/NotFoundView.vue"),
        meta: { title: "notFound.title" },
      },
    ],
    scrollBehavior: () => ({ top: 0 }),
  });

  router.beforeEach(async (to) => {
    if (!to.meta.auth) return true;
    if (!(await auth.accessToken())) {
      await auth.signIn(to.fullPath, currentLocale());
      return false;
    }
    if (to.meta.staff && !auth.isStaff.value) return { name: "timetable" };
    return true;
  });
  return router;
}
