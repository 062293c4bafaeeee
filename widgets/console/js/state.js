// What the console knows right now, shared by its views.
export const state = {
  me: null,            // the signed-in agent (GET /api/v1/me)
  agents: new Map(),   // id -> agent (name, presence)
  conversations: new Map(), // id -> the list's row
  viewers: new Map(),  // conversation id -> Map(agent id -> {name, until})
  typing: new Map(),   // conversation id -> Map(agent id -> {name, until})
  canned: [],
  queues: [],
  tags: [],            // the tags in use, for autocomplete (GET /api/v1/tags)
};

const RANK = { agent: 1, supervisor: 2, admin: 3 };

// Whether the signed-in agent's role reaches ``role``: the console hides what it may not
// do (the API decides in the end).
export function atLeast(role) {
  return Boolean(state.me) && RANK[state.me.role] >= RANK[role];
}

export function agentName(id) {
  if (!id) return "";
  return state.agents.get(id)?.name || id.slice(0, 8);
}

export function isSupervisor() {
  return state.me && (state.me.role === "supervisor" || state.me.role === "admin");
}

// Someone viewing or typing is remembered for a while; they re-announce every 10 s.
export function mark(map, conversationId, agentId, name, seconds) {
  if (!map.has(conversationId)) map.set(conversationId, new Map());
  map.get(conversationId).set(agentId, { name, until: Date.now() + seconds * 1000 });
}

export function present(map, conversationId) {
  const now = Date.now();
  const people = map.get(conversationId);
  if (!people) return [];
  for (const [id, entry] of people) if (entry.until < now) people.delete(id);
  return [...people.entries()].filter(([id]) => id !== state.me?.id).map(([, e]) => e.name);
}
