// Sign-in, with the second factor when the account has one, and the set-up of one
// when an admin made it mandatory.
import { get, post, setCsrf, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

export function showLogin(root, done, { setup = false } = {}) {
  if (setup) return showSetup(root, done);
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const totp = h("label", { hidden: true }, t("login.totp"),
    h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" }));
  const form = h("form", { class: "login card", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = { email: data.get("email"), password: data.get("password") };
    if (data.get("totp")) body.totp = data.get("totp");
    try {
      const who = await post("/api/v1/auth/login", body);
      setCsrf(who.csrf_token);
      done();
    } catch (err) {
      const slug = (err instanceof ApiError && err.problem.type) || "";
      if (slug.endsWith("totp-required")) { totp.hidden = false; totp.querySelector("input").focus(); error.textContent = t("login.totp_needed"); return; }
      error.textContent = err.status === 0 ? t("error.network") : err.message;
    }
  } },
  h("h1", {}, t("login.title")),
  h("label", {}, t("login.email"), h("input", { name: "email", type: "email", autocomplete: "username", required: true, autofocus: true })),
  h("label", {}, t("login.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
  totp, error, h("button", { type: "submit", class: "primary" }, t("login.submit")));
  replace(root, h("main", { class: "login-page", id: "main" }, form));
  form.querySelector("input").focus();
}

async function showSetup(root, done) {
  const enrolment = await post("/api/v1/me/totp");
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "login card", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await post("/api/v1/me/totp/confirm", { code: new FormData(form).get("code") });
      setCsrf((await get("/api/v1/me")).csrf_token);
      done();
    } catch (err) { error.textContent = err.message; }
  } },
  h("h1", {}, t("login.title")), h("p", {}, t("login.totp_setup")),
  h("p", {}, h("code", { class: "secret" }, enrolment.secret)),
  h("p", { class: "muted" }, enrolment.uri),
  h("label", {}, t("login.totp"), h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true })),
  error, h("button", { type: "submit", class: "primary" }, t("login.totp_confirm")));
  replace(root, h("main", { class: "login-page", id: "main" }, form));
}
