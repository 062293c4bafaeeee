// The hub's JSON API: the session cookie travels by itself; state-changing calls carry
// the CSRF token the hub handed out at login (or in GET /api/v1/me).
let csrf = "";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function setCsrf(token) { csrf = token || ""; }

// ``type``: a body other than JSON (a YAML document) is sent as the text it is.
export async function api(method, path, body, type = "application/json") {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = type;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : type === "application/json" ? JSON.stringify(body) : body,
    });
  } catch (err) {
    throw new ApiError(0, { detail: "network" });
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const postYaml = (path, text) => api("POST", path, text, "application/yaml");
export const putYaml = (path, text) => api("PUT", path, text, "application/yaml");

// A file for a reply: the raw bytes, named in the query.
export async function upload(file) {
  let resp;
  try {
    resp = await fetch(`/api/v1/uploads?filename=${encodeURIComponent(file.name)}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "X-CSRF-Token": csrf, "Content-Type": file.type || "application/octet-stream", Accept: "application/json" },
    });
  } catch (err) {
    throw new ApiError(0, { detail: "network" });
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}
